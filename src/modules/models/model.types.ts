import { GraphQLJSONObject } from '../../common/json-scalar';
import { ArgsType, Field, Float, ID, InputType, Int } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { Model, ModelAlias, ModelTask } from './model.entity';

@InputType()
export class CreateModelInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'Unique within the project' })
  name: string;

  @Field(() => ModelTask)
  task: ModelTask;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'A model on a remote Open Inference Protocol (KServe v2) server' })
export class RemoteModelInput {
  @Field({ description: 'Base URL, http(s)://host:port' })
  url: string;

  @Field({ description: 'The model name on that server' })
  model: string;

  @Field(() => String, { nullable: true })
  version?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Per-request timeout in milliseconds, 1 to 60000; default 2000',
  })
  timeoutMs?: number | null;
}

@InputType({ description: 'An input with the answer the version must give for it' })
export class GoldenSampleInput {
  @Field(() => GraphQLJSONObject, { description: 'Raw feature values, as `predict` takes them' })
  input: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: 'The label a classifier must give' })
  expectedLabel?: string | null;

  @Field(() => [Float], { nullable: true, description: 'The values a regressor must give' })
  expectedValues?: number[] | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Largest absolute difference accepted per value; default 1e-4',
  })
  tolerance?: number | null;
}

@InputType()
export class RegisterModelVersionInput {
  @Field(() => ID)
  modelId: string;

  @Field(() => String, {
    nullable: true,
    description:
      'sha256 of an ONNX artifact uploaded to the project with PUT /artifacts/sha256/<hex>?project=<slug>; or give `remote`',
  })
  artifactSha256?: string | null;

  @Field(() => RemoteModelInput, { nullable: true, description: 'A remote model instead of an artifact' })
  remote?: RemoteModelInput | null;

  @Field(() => [GoldenSampleInput], {
    nullable: true,
    description: 'Run at registration: all reproduced marks the version VALIDATED, any mismatch REJECTED',
  })
  goldenSamples?: GoldenSampleInput[] | null;

  @Field(() => [String], { nullable: true, description: 'Names of the input features, in order' })
  featureNames?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Class labels, in output order' })
  labels?: string[] | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The preprocessing spec; its canonical hash is stored',
  })
  preprocessing?: Record<string, unknown> | null;

  @Field(() => ID, { nullable: true, description: 'The run that produced it, in the same project' })
  runId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'The dataset version it was trained on, in the same project',
  })
  datasetVersionId?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Evaluation metrics: name to finite number',
  })
  metrics?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  modelCard?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

@ArgsType()
export class ModelsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

@ArgsType()
export class AliasHistoryArgs extends PageArgs {
  @Field(() => ID)
  modelId: string;

  @Field(() => String, { nullable: true, description: 'Only this alias; all aliases of the model otherwise' })
  alias?: string | null;

  @Field(() => Date, { nullable: true, description: 'Only the assignments in force at this instant' })
  at?: Date | null;
}

export const ModelConnection = Connection(Model);
export const ModelAliasConnection = Connection(ModelAlias);
