import { GraphQLJSONObject } from '../../common/json-scalar';
import { ArgsType, Field, ID, InputType, registerEnumType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { Dataset } from './dataset.entity';

/** How a dataset column is profiled. */
export enum DatasetColumnType {
  NUMERIC = 'NUMERIC',
  CATEGORICAL = 'CATEGORICAL',
}
registerEnumType(DatasetColumnType, {
  name: 'DatasetColumnType',
  description: 'NUMERIC columns are binned by deciles; CATEGORICAL ones get category frequencies',
});

@InputType()
export class CreateDatasetInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'Unique within the project' })
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

@InputType({ description: 'Declares a column type instead of inferring it' })
export class DatasetColumnInput {
  @Field()
  name: string;

  @Field(() => DatasetColumnType)
  type: DatasetColumnType;
}

@InputType({ description: 'Exactly one of rows or csvSha256' })
export class RegisterDatasetVersionInput {
  @Field(() => ID)
  datasetId: string;

  @Field(() => [GraphQLJSONObject], { nullable: true, description: 'Rows given inline, 1 to 10,000' })
  rows?: Array<Record<string, unknown>> | null;

  @Field(() => String, {
    nullable: true,
    description:
      'sha256 of a CSV artifact (header row first), uploaded to the project with PUT /artifacts/sha256/<hex>?project=<slug>',
  })
  csvSha256?: string | null;

  @Field(() => String, { nullable: true, description: 'Where the data lives, for people and pipelines' })
  uri?: string | null;

  @Field(() => [DatasetColumnInput], {
    nullable: true,
    description: 'Column types to use instead of inferring them',
  })
  columns?: DatasetColumnInput[] | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

@ArgsType()
export class DatasetsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

export const DatasetConnection = Connection(Dataset);
