import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { References } from '../../db/references';
import { Endpoint } from '../endpoints/endpoint.entity';
import { ModelVersion } from '../models/model.entity';

export enum RolloutStrategy {
  /** All traffic at once; the champion alias moves at once. */
  IMMEDIATE = 'IMMEDIATE',
  /** Steps of traffic weight, each analysed against the stable version before the next. */
  CANARY = 'CANARY',
  /** The candidate scores a mirror of every request, never answering; promotion is by hand. */
  SHADOW = 'SHADOW',
  /** The candidate is mirrored and checked, then takes all traffic at once. */
  BLUE_GREEN = 'BLUE_GREEN',
}
registerEnumType(RolloutStrategy, { name: 'RolloutStrategy' });

export enum RolloutStatus {
  PENDING_APPROVAL = 'PENDING_APPROVAL',
  PROGRESSING = 'PROGRESSING',
  PAUSED = 'PAUSED',
  SUCCEEDED = 'SUCCEEDED',
  ROLLED_BACK = 'ROLLED_BACK',
}
registerEnumType(RolloutStatus, { name: 'RolloutStatus' });

export const ACTIVE_STATUSES = [
  RolloutStatus.PENDING_APPROVAL,
  RolloutStatus.PROGRESSING,
  RolloutStatus.PAUSED,
];

export enum AnalysisMetric {
  /** Candidate p95 latency over the stable version's (`maxRatio`), or above `max` ms. */
  P95_LATENCY = 'P95_LATENCY',
  /** Candidate error rate minus the stable version's (`maxIncrease`), or above `max`. */
  ERROR_RATE = 'ERROR_RATE',
  /** Stable accuracy minus candidate accuracy on recorded outcomes (`maxDecrease`), or below `min`. */
  LIVE_ACCURACY = 'LIVE_ACCURACY',
  /** An open drift alert on the endpoint fails the check. */
  DRIFT = 'DRIFT',
  /** Share of mirrored requests where the candidate gives the stable version's label (`min`); shadow phases. */
  AGREEMENT = 'AGREEMENT',
}
registerEnumType(AnalysisMetric, { name: 'AnalysisMetric' });

@ObjectType()
export class RolloutStep {
  @Field(() => Float, { description: 'Percent of request keys the candidate answers in this step (CANARY)' })
  weight: number;

  @Field(() => Float, { description: 'Minutes the step lasts (analysed every interval) before the next' })
  pauseMinutes: number;

  @Field({ description: 'The step waits for an approver before it starts' })
  manualGate: boolean;
}

@ObjectType()
export class AnalysisCondition {
  @Field(() => AnalysisMetric)
  metric: AnalysisMetric;

  @Field(() => Float, { nullable: true })
  maxRatio?: number | null;

  @Field(() => Float, { nullable: true })
  maxIncrease?: number | null;

  @Field(() => Float, { nullable: true })
  maxDecrease?: number | null;

  @Field(() => Float, { nullable: true })
  max?: number | null;

  @Field(() => Float, { nullable: true })
  min?: number | null;
}

@ObjectType()
export class Analysis {
  @Field(() => Float, { description: 'Minutes between analyses of a step' })
  intervalMinutes: number;

  @Field(() => Int, {
    description: 'Candidate requests (or outcomes) needed before a check counts; fewer is inconclusive',
  })
  minSamples: number;

  @Field(() => Int, { description: 'Failed analyses tolerated; one more rolls back' })
  failureLimit: number;

  @Field(() => [AnalysisCondition])
  conditions: AnalysisCondition[];
}

/** Moving an endpoint from its stable version to a candidate, by a strategy, with analysis on live signals. */
@ObjectType()
@Entity('rollout')
@Index('uq_rollout__active_endpoint', ['endpointId'], {
  unique: true,
  where: "status IN ('PENDING_APPROVAL', 'PROGRESSING', 'PAUSED')",
})
@Index('idx_rollout__project_created', ['projectId', 'createdAt'])
export class Rollout {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_rollout' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => ID)
  @Column('uuid')
  endpointId: string;

  @References(() => Endpoint, 'endpoint_id', 'fk_rollout__endpoint_id', { onDelete: 'CASCADE' })
  endpoint?: Relation<Endpoint>;

  @Field(() => ID, { description: 'The stable version when it started: what a rollback restores' })
  @Column('uuid')
  fromVersionId: string;

  @Field(() => ID)
  @Column('uuid')
  toVersionId: string;

  @References(() => ModelVersion, 'to_version_id', 'fk_rollout__to_version_id', { onDelete: 'CASCADE' })
  toVersion?: Relation<ModelVersion>;

  @Field(() => RolloutStrategy)
  @Column('enum', { enum: RolloutStrategy, enumName: 'rollout_strategy' })
  strategy: RolloutStrategy;

  @Field(() => [RolloutStep])
  @Column('jsonb')
  steps: RolloutStep[];

  @Field(() => Analysis)
  @Column('jsonb')
  analysis: Analysis;

  @Field(() => RolloutStatus)
  @Column('enum', { enum: RolloutStatus, enumName: 'rollout_status' })
  status: RolloutStatus;

  @Field(() => Int, { description: 'Index of the step in progress (or awaiting approval)' })
  @Column('int', { default: 0 })
  currentStep: number;

  @Field(() => Date, { nullable: true, description: 'When the current step started taking traffic' })
  @Column('timestamptz', { nullable: true })
  stepStartedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  lastAnalysisAt: Date | null;

  @Field(() => Int, { description: 'Failed analyses so far' })
  @Column('int', { default: 0 })
  failures: number;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  idempotencyKey: string | null;

  @Field(() => ID)
  @Column('uuid')
  requestedByKeyId: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  reason: string | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field()
  @Column('timestamptz')
  updatedAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  finishedAt: Date | null;
}

export enum RolloutEventType {
  REQUESTED = 'REQUESTED',
  APPROVAL_REQUESTED = 'APPROVAL_REQUESTED',
  APPROVED = 'APPROVED',
  REJECTED = 'REJECTED',
  STEP_STARTED = 'STEP_STARTED',
  ANALYSIS_PASSED = 'ANALYSIS_PASSED',
  ANALYSIS_FAILED = 'ANALYSIS_FAILED',
  ANALYSIS_INCONCLUSIVE = 'ANALYSIS_INCONCLUSIVE',
  PAUSED = 'PAUSED',
  RESUMED = 'RESUMED',
  PROMOTED = 'PROMOTED',
  ROLLED_BACK = 'ROLLED_BACK',
}
registerEnumType(RolloutEventType, { name: 'RolloutEventType' });

/** One thing that happened to a rollout: who (a key, or the driver), when, why, with the evidence. */
@ObjectType()
@Entity('rollout_event')
@Index('idx_rollout_event__rollout_at', ['rolloutId', 'at'])
export class RolloutEvent {
  /** A sequence: events of one instant (an injected clock, one transaction) keep their order. */
  @Field(() => ID)
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'pk_rollout_event' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  rolloutId: string;

  @References(() => Rollout, 'rollout_id', 'fk_rollout_event__rollout_id', { onDelete: 'CASCADE' })
  rollout?: Relation<Rollout>;

  @Field(() => RolloutEventType)
  @Column('enum', { enum: RolloutEventType, enumName: 'rollout_event_type' })
  type: RolloutEventType;

  @Field(() => Int, { nullable: true })
  @Column('int', { nullable: true })
  step: number | null;

  @Field()
  @Column('timestamptz')
  at: Date;

  @Field(() => ID, { nullable: true, description: 'The key that acted; null for the rollout driver' })
  @Column('uuid', { nullable: true })
  actorKeyId: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  reason: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Column('jsonb', { nullable: true })
  evidence: Record<string, unknown> | null;
}

export enum ApprovalStatus {
  PENDING = 'PENDING',
  APPROVED = 'APPROVED',
  REJECTED = 'REJECTED',
}
registerEnumType(ApprovalStatus, { name: 'ApprovalStatus' });

/** A decision a rollout waits for: only an approver other than the requester can make it. */
@ObjectType()
@Entity('approval_request')
@Index('idx_approval_request__project_status', ['projectId', 'status'])
@Index('uq_approval_request__pending', ['rolloutId'], { unique: true, where: "status = 'PENDING'" })
export class ApprovalRequest {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_approval_request' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => ID)
  @Column('uuid')
  rolloutId: string;

  @References(() => Rollout, 'rollout_id', 'fk_approval_request__rollout_id', { onDelete: 'CASCADE' })
  rollout?: Relation<Rollout>;

  @Field(() => Int, { nullable: true, description: 'The gated step; null for the rollout as a whole' })
  @Column('int', { nullable: true })
  step: number | null;

  @Field({ description: 'Why approval is needed' })
  @Column('text')
  reason: string;

  @Field(() => ID)
  @Column('uuid')
  requestedByKeyId: string;

  @Field(() => ApprovalStatus)
  @Column('enum', { enum: ApprovalStatus, enumName: 'approval_status', default: ApprovalStatus.PENDING })
  status: ApprovalStatus;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  decidedByKeyId: string | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  decidedAt: Date | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  comment: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;
}
