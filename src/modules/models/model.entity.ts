import { SafeIntResolver } from 'graphql-scalars';
import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  Unique,
  type Relation,
} from 'typeorm';
import { bigintAsNumber } from '../../common/columns';
import { References } from '../../db/references';
import { DatasetVersion } from '../datasets/dataset.entity';
import { Project } from '../projects/project.entity';
import { Run } from '../runs/run.entity';
import { ModelFormat, ModelTask, ModelVersionStatus } from './model.enums';
import type { ModelSignature } from '../inference/onnx-signature';

// Other modules import the enums from ./model.enums, as they may not import this entity file; they are
// re-exported here for the code that always imported them from it.
export { ModelFormat, ModelTask, ModelVersionStatus } from './model.enums';

@ObjectType()
@Entity('model')
@Unique('uq_model__name', ['projectId', 'name'])
export class Model {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_model' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_model__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field()
  @Column('text')
  name: string;

  @Field(() => ModelTask)
  @Column('enum', { enum: ModelTask, enumName: 'model_task' })
  task: ModelTask;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description: string | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

@ObjectType({ description: 'A model served by a remote Open Inference Protocol (KServe v2) server' })
export class RemoteModel {
  @Field({ description: 'Base URL of the server, e.g. http://triton:8000' })
  url: string;

  @Field({ description: 'The model name on that server' })
  model: string;

  @Field(() => String, {
    nullable: true,
    description: 'The model version on that server; its default if null',
  })
  version: string | null;

  @Field(() => Int, { description: 'Per-request timeout, milliseconds' })
  timeoutMs: number;
}

@ObjectType({ description: 'An immutable, numbered version of a model: its artifact, signature and lineage' })
@Entity('model_version')
@Unique('uq_model_version__version', ['modelId', 'version'])
@Index('idx_model_version__project_id', ['projectId'])
@Index('idx_model_version__run_id', ['runId'])
export class ModelVersion {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_model_version' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  modelId: string;

  @References(() => Model, 'model_id', 'fk_model_version__model_id', { onDelete: 'CASCADE' })
  model?: Relation<Model>;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => Int)
  @Column('int')
  version: number;

  @Field(() => String, {
    nullable: true,
    description: 'sha256 of the ONNX artifact; null for a remote model',
  })
  @Column('char', { length: 64, nullable: true })
  artifactSha256: string | null;

  @Field(() => SafeIntResolver, { nullable: true })
  @Column('bigint', { transformer: bigintAsNumber, nullable: true })
  artifactSize: number | null;

  @Field(() => RemoteModel, { nullable: true, description: 'The remote model server that scores it, if any' })
  @Column('jsonb', { nullable: true })
  remote: RemoteModel | null;

  @Field(() => ModelFormat)
  @Column('enum', { enum: ModelFormat, enumName: 'model_format', default: ModelFormat.ONNX })
  format: ModelFormat;

  @Field(() => GraphQLJSONObject, { description: 'Inputs and outputs as read from the ONNX graph' })
  @Column('jsonb')
  signature: ModelSignature;

  @Field(() => [String])
  @Column('text', { array: true, default: () => "'{}'" })
  featureNames: string[];

  @Field(() => [String])
  @Column('text', { array: true, default: () => "'{}'" })
  labels: string[];

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Column('jsonb', { nullable: true })
  preprocessing: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'sha256 of the canonical JSON of the preprocessing spec',
  })
  @Column('char', { length: 64, nullable: true })
  preprocessingHash: string | null;

  @Field(() => ID, { nullable: true, description: 'The run that produced this version' })
  @Column('uuid', { nullable: true })
  runId: string | null;

  @References(() => Run, 'run_id', 'fk_model_version__run_id', { nullable: true, onDelete: 'SET NULL' })
  run?: Relation<Run>;

  @Field(() => ID, { nullable: true, description: 'The dataset version it was trained on' })
  @Column('uuid', { nullable: true })
  datasetVersionId: string | null;

  @References(() => DatasetVersion, 'dataset_version_id', 'fk_model_version__dataset_version_id', {
    nullable: true,
    onDelete: 'SET NULL',
  })
  datasetVersion?: Relation<DatasetVersion>;

  @Field(() => GraphQLJSONObject, { description: 'Evaluation metrics, name to value' })
  @Column('jsonb', { default: () => "'{}'" })
  metrics: Record<string, number>;

  @Field(() => ModelVersionStatus)
  @Column('enum', {
    enum: ModelVersionStatus,
    enumName: 'model_version_status',
    default: ModelVersionStatus.REGISTERED,
  })
  status: ModelVersionStatus;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Golden samples run at registration: { samples, passed, failed, mismatches: [{ sample, expected, actual }] }',
  })
  @Column('jsonb', { nullable: true })
  validation: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Column('jsonb', { nullable: true })
  modelCard: Record<string, unknown> | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

@ObjectType({ description: 'A named pointer (champion, challenger, ...) to a version, over a span of time' })
@Entity('model_alias')
@Index('uq_model_alias__alias', ['modelId', 'alias'], { unique: true, where: 'valid_to IS NULL' })
@Index('idx_model_alias__version_id', ['versionId'])
@Index('idx_model_alias__history', ['modelId', 'alias', 'validFrom'])
export class ModelAlias {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_model_alias' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  modelId: string;

  @References(() => Model, 'model_id', 'fk_model_alias__model_id', { onDelete: 'CASCADE' })
  model?: Relation<Model>;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field()
  @Column('text')
  alias: string;

  @Field(() => ID)
  @Column('uuid')
  versionId: string;

  @References(() => ModelVersion, 'version_id', 'fk_model_alias__version_id', { onDelete: 'CASCADE' })
  version?: Relation<ModelVersion>;

  @Field({ description: 'When the alias started pointing at this version' })
  @Column('timestamptz')
  validFrom: Date;

  @Field(() => Date, { nullable: true, description: 'When it stopped; null while it still does' })
  @Column('timestamptz', { nullable: true })
  validTo: Date | null;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  assignedByKeyId: string | null;
}
