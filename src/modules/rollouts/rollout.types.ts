import { ArgsType, Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import {
  AnalysisMetric,
  ApprovalRequest,
  ApprovalStatus,
  Rollout,
  RolloutEvent,
  RolloutStatus,
  RolloutStrategy,
} from './rollout.entity';

@InputType()
export class RolloutStepInput {
  @Field(() => Float, { nullable: true, description: 'CANARY: percent of request keys, 0 to 100' })
  weight?: number | null;

  @Field(() => Float, { nullable: true, description: 'Minutes the step lasts; default 5' })
  pauseMinutes?: number | null;

  @Field({ nullable: true, defaultValue: false, description: 'Wait for an approver before this step starts' })
  manualGate: boolean;
}

@InputType()
export class AnalysisConditionInput {
  @Field(() => AnalysisMetric)
  metric: AnalysisMetric;

  @Field(() => Float, { nullable: true, description: 'P95_LATENCY: candidate / stable at most this' })
  maxRatio?: number | null;

  @Field(() => Float, { nullable: true, description: 'ERROR_RATE: candidate − stable at most this' })
  maxIncrease?: number | null;

  @Field(() => Float, { nullable: true, description: 'LIVE_ACCURACY: stable − candidate at most this' })
  maxDecrease?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'An absolute ceiling (ms for latency, a rate for errors)',
  })
  max?: number | null;

  @Field(() => Float, { nullable: true, description: 'An absolute floor (accuracy, agreement)' })
  min?: number | null;
}

@InputType()
export class AnalysisInput {
  @Field(() => Float, { nullable: true, description: 'Minutes between analyses; default 1' })
  intervalMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: 'Candidate requests needed for a verdict; default 50' })
  minSamples?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Failed analyses tolerated; default 0 (the first rolls back)',
  })
  failureLimit?: number | null;

  @Field(() => [AnalysisConditionInput], {
    nullable: true,
    description:
      'Default: p95 latency at most 1.5x stable, error rate at most +2 points, no open drift alert',
  })
  conditions?: AnalysisConditionInput[] | null;
}

@InputType()
export class DeployInput {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field(() => Int, { description: "The candidate: a version number of the endpoint's model" })
  version: number;

  @Field(() => RolloutStrategy)
  strategy: RolloutStrategy;

  @Field(() => [RolloutStepInput], {
    nullable: true,
    description:
      'CANARY default: 5%, 25%, 50%, 100%, 5 minutes each; SHADOW and BLUE_GREEN: one 30-minute phase',
  })
  steps?: RolloutStepInput[] | null;

  @Field(() => AnalysisInput, { nullable: true })
  analysis?: AnalysisInput | null;

  @Field(() => String, { nullable: true, description: 'Why, for the history' })
  reason?: string | null;

  @Field(() => String, { nullable: true, description: 'A retry with the same key returns the same rollout' })
  idempotencyKey?: string | null;
}

@ArgsType()
export class RolloutsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => String, { nullable: true, description: 'Only this endpoint (by name)' })
  endpoint?: string | null;

  @Field(() => [RolloutStatus], { nullable: true })
  statuses?: RolloutStatus[] | null;
}

@ArgsType()
export class ApprovalRequestsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => [ApprovalStatus], { nullable: true })
  statuses?: ApprovalStatus[] | null;
}

@ArgsType()
export class RolloutChangedArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => String, { nullable: true, description: 'Only this endpoint (by name)' })
  endpoint?: string | null;
}

@ObjectType({ description: 'Which versions served an endpoint at an instant, in what split' })
export class ServedVersion {
  @Field()
  endpoint: string;

  @Field()
  at: Date;

  @Field(() => ID)
  stableVersionId: string;

  @Field(() => Int)
  stableVersion: number;

  @Field(() => ID, { nullable: true })
  canaryVersionId: string | null;

  @Field(() => Int, { nullable: true })
  canaryVersion: number | null;

  @Field(() => Float)
  canaryWeight: number;

  @Field(() => ID, { nullable: true })
  shadowVersionId: string | null;

  @Field(() => Int, { nullable: true })
  shadowVersion: number | null;

  @Field({ description: 'When this split started' })
  validFrom: Date;

  @Field(() => Date, { nullable: true, description: 'When it ended; null if still in force' })
  validTo: Date | null;
}

@ObjectType({ description: 'A rollout as it changed, with what happened' })
export class RolloutChange {
  @Field(() => Rollout)
  rollout: Rollout;

  @Field(() => RolloutEvent)
  event: RolloutEvent;
}

export const RolloutConnection = Connection(Rollout);
export const ApprovalRequestConnection = Connection(ApprovalRequest);
