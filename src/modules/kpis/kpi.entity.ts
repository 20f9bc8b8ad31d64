import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';

export enum KpiAggregation {
  /** A bucket's value is the mean of its points (handling time, success rate as 0/1 points). */
  MEAN = 'MEAN',
  /** A bucket's value is the sum of its points (throughput as 1 per item). */
  SUM = 'SUM',
}
registerEnumType(KpiAggregation, { name: 'KpiAggregation' });

export enum KpiDirection {
  HIGHER_IS_BETTER = 'HIGHER_IS_BETTER',
  LOWER_IS_BETTER = 'LOWER_IS_BETTER',
}
registerEnumType(KpiDirection, { name: 'KpiDirection' });

export enum KpiSource {
  /** Pushed by a system with recordKpiPoints. */
  PUSHED = 'PUSHED',
  /** Computed by the hub from synced records (tickets, RPA jobs and queue items, CRM deals). */
  DERIVED = 'DERIVED',
}
registerEnumType(KpiSource, { name: 'KpiSource' });

/** A business measure tracked per project, e.g. ticket handling time. */
@ObjectType()
@Entity('kpi')
@Index('uq_kpi__project_key', ['projectId', 'key'], { unique: true })
export class Kpi {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_kpi' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_kpi__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field({ description: 'Stable identifier, e.g. ticket_handling_time' })
  @Column('text')
  key: string;

  @Field()
  @Column('text')
  name: string;

  @Field({ description: 'e.g. hours, ratio, items' })
  @Column('text')
  unit: string;

  @Field(() => KpiAggregation)
  @Column('enum', { enum: KpiAggregation, enumName: 'kpi_aggregation' })
  aggregation: KpiAggregation;

  @Field(() => KpiDirection)
  @Column('enum', { enum: KpiDirection, enumName: 'kpi_direction' })
  direction: KpiDirection;

  @Field(() => KpiSource)
  @Column('enum', { enum: KpiSource, enumName: 'kpi_source' })
  source: KpiSource;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;
}

/**
 * One observation of a KPI: a value at a time, attributed to the model version whose prediction
 * touched it (if any). Derived points carry `sourceRef` (connector, stream, record) and are replaced
 * when their record changes; pushed points may carry one to make a re-push harmless.
 */
@Entity('kpi_point')
@Index('idx_kpi_point__kpi_time', ['kpiId', 'time'])
@Index('uq_kpi_point__source_ref', ['kpiId', 'sourceRef'], { unique: true, where: 'source_ref IS NOT NULL' })
export class KpiPoint {
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'pk_kpi_point' })
  id: string;

  @Column('uuid')
  kpiId: string;

  @References(() => Kpi, 'kpi_id', 'fk_kpi_point__kpi_id', { onDelete: 'CASCADE' })
  kpi?: Relation<Kpi>;

  @Column('uuid')
  projectId: string;

  @Column('timestamptz')
  time: Date;

  @Column('double precision')
  value: number;

  @Column('uuid', { nullable: true })
  modelVersionId: string | null;

  @Column('text', { nullable: true })
  requestKey: string | null;

  @Column('jsonb', { default: () => "'{}'" })
  dimensions: Record<string, unknown>;

  @Column('text', { nullable: true })
  sourceRef: string | null;
}
