import { GraphQLJSONObject } from 'graphql-scalars';
import { ArgsType, Field, ID, InputType } from 'type-graphql';
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
}

@InputType()
export class RegisterModelVersionInput {
  @Field(() => ID)
  modelId: string;

  @Field({ description: 'sha256 of an ONNX artifact uploaded with PUT /artifacts/sha256/<hex>' })
  artifactSha256: string;

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
