import { GraphQLJSONObject } from '../../common/json-scalar';
import { ArgsType, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum TrafficRole {
  STABLE = 'STABLE',
  CANARY = 'CANARY',
}
registerEnumType(TrafficRole, {
  name: 'TrafficRole',
  description: 'Which part of the traffic split answered',
});

@ObjectType()
export class LabelScore {
  @Field()
  label: string;

  @Field(() => Float)
  score: number;
}

@ObjectType({ description: 'One answer of a model version' })
export class Prediction {
  @Field({ description: 'The key given, or one generated; quote it to recordPredictionOutcome' })
  requestKey: string;

  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field(() => ID, { description: 'The model version that answered' })
  modelVersionId: string;

  @Field(() => Int, { description: 'Its version number' })
  modelVersion: number;

  @Field(() => TrafficRole)
  routedTo: TrafficRole;

  @Field(() => String, { nullable: true, description: 'Classifiers: the best label' })
  label?: string | null;

  @Field(() => Float, { nullable: true, description: 'Classifiers: its score' })
  score?: number | null;

  @Field(() => [LabelScore], {
    nullable: true,
    description: 'Classifiers: every label with its score, best first',
  })
  scores?: LabelScore[] | null;

  @Field(() => [Float], { nullable: true, description: 'Regressors and other models: the output values' })
  values?: number[] | null;

  @Field(() => Float, { description: 'Milliseconds from validated input to answer (queueing and model run)' })
  latencyMs: number;
}

@ObjectType()
export class PredictionBatch {
  @Field(() => [Prediction], { description: 'In the order of the inputs' })
  predictions: Prediction[];

  @Field(() => Float)
  latencyMs: number;
}

@ArgsType()
export class PredictArgs {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field(() => GraphQLJSONObject, {
    description: 'Feature values by name, as the version preprocessing takes them',
  })
  input: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description:
      'Your id for this request (1 to 200 characters): the same key always reaches the same version, a retry is logged once, outcomes refer to it',
  })
  requestKey?: string | null;
}

@ArgsType()
export class PredictBatchArgs {
  @Field()
  endpoint: string;

  @Field(() => [GraphQLJSONObject], { description: 'Rows of feature values' })
  inputs: Array<Record<string, unknown>>;

  @Field(() => [String], { nullable: true, description: 'One distinct key per row; generated when omitted' })
  requestKeys?: string[] | null;

  @Field(() => String, { nullable: true, description: 'A retry with the same key returns the first answer' })
  idempotencyKey?: string | null;
}

@ArgsType()
export class RecordOutcomeArgs {
  @Field()
  endpoint: string;

  @Field()
  requestKey: string;

  @Field(() => String, { nullable: true, description: 'The true label (classifiers)' })
  label?: string | null;

  @Field(() => Float, { nullable: true, description: 'The true value (regressors)' })
  value?: number | null;
}

@ObjectType({ description: 'Accuracy of one version on the predictions whose outcome is known' })
export class VersionAccuracy {
  @Field(() => ID)
  modelVersionId: string;

  @Field(() => Int)
  modelVersion: number;

  @Field({ description: 'Shadow scorings, never returned to callers' })
  shadow: boolean;

  @Field(() => Int, { description: 'Predictions with a recorded outcome' })
  predictions: number;

  @Field(() => Int, { description: 'Classifiers: of those, answered with the true label' })
  correct: number;

  @Field(() => Float, { nullable: true, description: 'Classifiers: correct / predictions' })
  accuracy: number | null;

  @Field(() => Float, { nullable: true, description: 'Regressors: mean absolute error of the first value' })
  meanAbsoluteError: number | null;
}

@ObjectType({ description: 'The loaded model versions, queues and batches of this replica' })
export class InferenceRuntimeInfo {
  @Field(() => [String], { description: 'Execution providers, in order of preference (INFERENCE_PROVIDERS)' })
  providers: string[];

  @Field(() => Int, { description: 'Inference worker threads' })
  workers: number;

  @Field(() => Int, { description: 'Batches being run now' })
  inFlight: number;

  @Field(() => Int, { description: 'Rows waiting for a batch' })
  queueDepth: number;

  @Field(() => Float, { description: 'Batches run since start' })
  batches: number;

  @Field(() => Float, { description: 'Rows scored since start' })
  rows: number;

  @Field(() => Float, { description: 'Batches that failed' })
  failures: number;

  @Field(() => [BatchSizeBucket])
  batchSizeHistogram: BatchSizeBucket[];

  @Field(() => [LoadedModelVersion], { description: 'Versions the caller may read' })
  loadedVersions: LoadedModelVersion[];

  @Field(() => Int, { description: 'Prediction rows waiting to be written to the log' })
  predictionLogBuffered: number;
}

@ObjectType({ description: 'Batches of at most `le` rows (and more than the previous bucket)' })
export class BatchSizeBucket {
  @Field(() => Int, { nullable: true, description: 'Upper bound in rows; null for the rest' })
  le: number | null;

  @Field(() => Float)
  count: number;
}

@ObjectType()
export class LoadedModelVersion {
  @Field(() => ID)
  modelVersionId: string;

  @Field({ description: 'cpu, cuda, or remote:<url>' })
  provider: string;

  @Field(() => String, { nullable: true, description: 'Why a preferred provider was not used' })
  fallbackReason: string | null;

  @Field(() => Float, { description: 'Cold start: how long loading took, milliseconds' })
  loadMs: number;

  @Field()
  loadedAt: Date;

  @Field(() => Int)
  queueDepth: number;

  @Field(() => Float, { description: 'Requests scored since it was loaded' })
  requests: number;
}
