import { GraphQLJSONObject } from '../../common/json-scalar';
import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { Run, RunKind, RunMetric, RunStatus } from './run.entity';
import { MAX_METRIC_KEY_LENGTH, MAX_POINTS_PER_CALL } from './run-metrics';

@InputType()
export class StartRunInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field()
  name: string;

  @Field(() => RunKind)
  kind: RunKind;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Hyperparameters and settings, as given' })
  params?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Labels; every value must be a string' })
  tags?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The orchestrator's id for this run, unique per project: starting a run with a known externalRef returns the existing run",
  })
  externalRef?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Dataset versions the run reads, from the same project' })
  inputs?: string[] | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: 'Start as QUEUED instead of RUNNING',
  })
  queued?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'One value of a metric at a step' })
export class MetricPointInput {
  @Field({ description: `1 to ${MAX_METRIC_KEY_LENGTH} of A-Z a-z 0-9 _ . / : -` })
  key: string;

  @Field(() => Int, { nullable: true, defaultValue: 0, description: 'Zero or more' })
  step?: number | null;

  @Field()
  value: number;

  @Field(() => Date, {
    nullable: true,
    description: 'When the value was observed; defaults to the time of the call',
  })
  timestamp?: Date | null;
}

@ArgsType()
export class LogRunMetricsArgs {
  @Field(() => ID)
  runId: string;

  @Field(() => [MetricPointInput], { description: `1 to ${MAX_POINTS_PER_CALL} points` })
  points: MetricPointInput[];

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns the first result and writes nothing',
  })
  idempotencyKey?: string | null;
}

@ObjectType()
export class LogRunMetricsResult {
  @Field(() => ID)
  runId: string;

  @Field(() => Int, { description: 'Points written' })
  accepted: number;
}

@ArgsType()
export class FinishRunArgs {
  @Field(() => ID)
  id: string;

  @Field(() => RunStatus, { description: 'RUNNING (from QUEUED), SUCCEEDED, FAILED or CANCELLED' })
  status: RunStatus;

  @Field(() => String, { nullable: true, description: 'Why a FAILED or CANCELLED run stopped' })
  error?: string | null;
}

@ArgsType()
export class RunsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => RunStatus, { nullable: true })
  status?: RunStatus | null;

  @Field(() => RunKind, { nullable: true })
  kind?: RunKind | null;
}

@ArgsType()
export class RunMetricsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Only this metric' })
  key?: string | null;
}

export const RunConnection = Connection(Run);
export const RunMetricConnection = Connection(RunMetric);

export enum LineageNodeKind {
  MODEL_VERSION = 'MODEL_VERSION',
  RUN = 'RUN',
  DATASET_VERSION = 'DATASET_VERSION',
}
registerEnumType(LineageNodeKind, { name: 'LineageNodeKind' });

export enum LineageRelation {
  PRODUCED = 'PRODUCED',
  CONSUMED = 'CONSUMED',
  TRAINED_ON = 'TRAINED_ON',
}
registerEnumType(LineageRelation, {
  name: 'LineageRelation',
  valuesConfig: {
    PRODUCED: { description: 'from a run to the model version it produced' },
    CONSUMED: { description: 'from a dataset version to a run that read it' },
    TRAINED_ON: { description: 'from a dataset version to the model version trained on it' },
  },
});

@ObjectType()
export class LineageNode {
  @Field(() => ID, { description: 'The id of the model version, run or dataset version' })
  id: string;

  @Field(() => LineageNodeKind)
  kind: LineageNodeKind;

  @Field()
  label: string;
}

@ObjectType({ description: 'Edges point downstream: from what was used to what came of it' })
export class LineageEdge {
  @Field(() => ID)
  from: string;

  @Field(() => ID)
  to: string;

  @Field(() => LineageRelation)
  relation: LineageRelation;
}

@ObjectType({ description: 'What a model version came from: its run, and the dataset versions behind both' })
export class Lineage {
  @Field(() => [LineageNode])
  nodes: LineageNode[];

  @Field(() => [LineageEdge])
  edges: LineageEdge[];
}
