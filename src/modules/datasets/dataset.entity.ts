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
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';
import type { ColumnSpec, FeatureProfile } from './dataset-profile';

@ObjectType()
@Entity('dataset')
@Unique('uq_dataset__name', ['projectId', 'name'])
export class Dataset {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_dataset' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_dataset__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field()
  @Column('text')
  name: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description: string | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

@ObjectType({
  description: 'An immutable version of a dataset, with the feature profile drift is measured against',
})
@Entity('dataset_version')
@Unique('uq_dataset_version__version', ['datasetId', 'version'])
@Index('idx_dataset_version__project_id', ['projectId'])
export class DatasetVersion {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_dataset_version' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  datasetId: string;

  @References(() => Dataset, 'dataset_id', 'fk_dataset_version__dataset_id', { onDelete: 'CASCADE' })
  dataset?: Relation<Dataset>;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => Int)
  @Column('int')
  version: number;

  @Field({ description: 'sha256 of the CSV artifact, or of the canonical JSON of the rows given inline' })
  @Column('char', { length: 64 })
  sha256: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  uri: string | null;

  @Field(() => SafeIntResolver)
  @Column('int')
  rowCount: number;

  @Field(() => [GraphQLJSONObject], {
    description: 'Column name, type (NUMERIC or CATEGORICAL) and nullability',
  })
  @Column('jsonb')
  columns: ColumnSpec[];

  @Field(() => GraphQLJSONObject, {
    description: 'Per column: numeric bins and stats, or category frequencies',
  })
  @Column('jsonb')
  profile: FeatureProfile;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
