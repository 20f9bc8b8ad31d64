import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  type Relation,
} from 'typeorm';
import { References } from '../../db/references';
import { DatasetVersion } from '../datasets/dataset.entity';
import { Project } from '../projects/project.entity';
import { RunKind } from './run.enums';

// Other modules import RunKind from ./run.enums, as they may not import this entity file.
export { RunKind } from './run.enums';

export enum RunStatus {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(RunStatus, { name: 'RunStatus' });

@ObjectType({ description: 'A training, evaluation or data run, as reported by an orchestrator or notebook' })
@Entity('run')
@Index('idx_run__project_created', ['projectId', 'createdAt'])
@Index('uq_run__external_ref', ['projectId', 'externalRef'], {
  unique: true,
  where: 'external_ref IS NOT NULL',
})
export class Run {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_run' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_run__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field()
  @Column('text')
  name: string;

  @Field(() => RunKind)
  @Column('enum', { enum: RunKind, enumName: 'run_kind' })
  kind: RunKind;

  @Field(() => RunStatus)
  @Column('enum', { enum: RunStatus, enumName: 'run_status' })
  status: RunStatus;

  @Field(() => GraphQLJSONObject)
  @Column('jsonb', { default: () => "'{}'" })
  params: Record<string, unknown>;

  @Field(() => GraphQLJSONObject)
  @Column('jsonb', { default: () => "'{}'" })
  tags: Record<string, string>;

  @Field(() => String, {
    nullable: true,
    description: "The orchestrator's id for this run (Airflow, Argo, ...)",
  })
  @Column('text', { nullable: true })
  externalRef: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  error: string | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  finishedAt: Date | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}

/** A dataset version a run read. */
@Entity('run_input')
@Index('idx_run_input__dataset_version_id', ['datasetVersionId'])
export class RunInput {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_run_input' })
  runId: string;

  @References(() => Run, 'run_id', 'fk_run_input__run_id', { onDelete: 'CASCADE' })
  run?: Relation<Run>;

  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_run_input' })
  datasetVersionId: string;

  @References(() => DatasetVersion, 'dataset_version_id', 'fk_run_input__dataset_version_id', {
    onDelete: 'CASCADE',
  })
  datasetVersion?: Relation<DatasetVersion>;
}

@ObjectType({ description: 'One value of a metric at a step' })
@Entity('run_metric')
@Index('idx_run_metric__run_key_step', ['runId', 'key', 'step'])
export class RunMetric {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', primaryKeyConstraintName: 'pk_run_metric' })
  id: string;

  @Column('uuid')
  runId: string;

  @References(() => Run, 'run_id', 'fk_run_metric__run_id', { onDelete: 'CASCADE' })
  run?: Relation<Run>;

  @Field()
  @Column('text')
  key: string;

  @Field(() => Int)
  @Column('int')
  step: number;

  @Field()
  @Column('double precision')
  value: number;

  @Field()
  @Column('timestamptz')
  timestamp: Date;
}
