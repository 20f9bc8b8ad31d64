import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
  type Relation,
} from 'typeorm';
import { References } from '../../db/references';
import { Model, ModelVersion } from '../models/model.entity';
import { Project } from '../projects/project.entity';

@ObjectType({ description: 'Service-level targets of an endpoint' })
export class Sla {
  @Field(() => Float, { nullable: true, description: 'p95 latency target, milliseconds' })
  p95LatencyMs: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Highest acceptable share of failed predictions, 0 to 1',
  })
  maxErrorRate: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Lowest expected throughput, predictions per minute over the SLA window; below it a KPI alert is raised',
  })
  minThroughputPerMinute: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Lowest acceptable live accuracy per version (recorded outcomes, last hour), 0 to 1',
  })
  minLiveAccuracy: number | null;
}

@ObjectType({ description: 'How concurrent requests are merged into one model run (dynamic batching)' })
export class Batching {
  @Field(() => Int, { description: 'Rows per run; 1 turns batching off' })
  maxBatchSize: number;

  @Field(() => Float, {
    description:
      'How long a request may wait for others while the model has room; 0: no timer, a batch that is not full waits for the end of the event-loop turn, so requests arriving together run together',
  })
  maxQueueDelayMs: number;
}

/**
 * A named, stable address for predictions. Traffic goes to the stable version, except a canary share
 * (sticky per request key); a shadow version sees a copy of every request and is never answered with.
 */
@ObjectType()
@Entity('endpoint')
@Unique('uq_endpoint__name', ['name'])
@Index('idx_endpoint__project_id', ['projectId'])
export class Endpoint {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_endpoint' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_endpoint__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field({ description: 'Unique across the hub; what `predict` is called with' })
  @Column('text')
  name: string;

  @Field(() => ID)
  @Column('uuid')
  modelId: string;

  @References(() => Model, 'model_id', 'fk_endpoint__model_id', { onDelete: 'CASCADE' })
  model?: Relation<Model>;

  @Field(() => ID)
  @Column('uuid')
  stableVersionId: string;

  @References(() => ModelVersion, 'stable_version_id', 'fk_endpoint__stable_version_id', {
    onDelete: 'NO ACTION',
  })
  stableVersion?: Relation<ModelVersion>;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  canaryVersionId: string | null;

  @References(() => ModelVersion, 'canary_version_id', 'fk_endpoint__canary_version_id', {
    nullable: true,
    onDelete: 'NO ACTION',
  })
  canaryVersion?: Relation<ModelVersion>;

  @Field(() => Float, { description: 'Percent of requests (0 to 100) routed to the canary version' })
  @Column('double precision', { default: 0 })
  canaryWeight: number;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  shadowVersionId: string | null;

  @References(() => ModelVersion, 'shadow_version_id', 'fk_endpoint__shadow_version_id', {
    nullable: true,
    onDelete: 'NO ACTION',
  })
  shadowVersion?: Relation<ModelVersion>;

  @Column('double precision', { nullable: true })
  slaP95LatencyMs: number | null;

  @Column('double precision', { nullable: true })
  slaMaxErrorRate: number | null;

  @Column('double precision', { nullable: true })
  slaMinThroughputPerMinute: number | null;

  @Column('double precision', { nullable: true })
  slaMinLiveAccuracy: number | null;

  @Column('int', { default: 32 })
  maxBatchSize: number;

  @Column('double precision', { default: 0 })
  maxQueueDelayMs: number;

  @Field(() => Float, {
    description: 'Share of successful predictions logged, 0 to 1; failures are always logged',
  })
  @Column('double precision', { default: 1 })
  logSampleRate: number;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field()
  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;

  @Field(() => Sla)
  get sla(): Sla {
    return {
      p95LatencyMs: this.slaP95LatencyMs,
      maxErrorRate: this.slaMaxErrorRate,
      minThroughputPerMinute: this.slaMinThroughputPerMinute,
      minLiveAccuracy: this.slaMinLiveAccuracy,
    };
  }

  @Field(() => Batching)
  get batching(): Batching {
    return { maxBatchSize: this.maxBatchSize, maxQueueDelayMs: this.maxQueueDelayMs };
  }
}

/** Which versions served an endpoint, and in what split, over a span of time. */
@ObjectType({ description: "An endpoint's traffic split over a span of time" })
@Entity('endpoint_traffic')
@Index('idx_endpoint_traffic__history', ['endpointId', 'validFrom'])
@Index('uq_endpoint_traffic__current', ['endpointId'], { unique: true, where: 'valid_to IS NULL' })
export class EndpointTraffic {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_endpoint_traffic' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  endpointId: string;

  @References(() => Endpoint, 'endpoint_id', 'fk_endpoint_traffic__endpoint_id', { onDelete: 'CASCADE' })
  endpoint?: Relation<Endpoint>;

  @Field(() => ID)
  @Column('uuid')
  stableVersionId: string;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  canaryVersionId: string | null;

  @Field(() => Float)
  @Column('double precision')
  canaryWeight: number;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  shadowVersionId: string | null;

  @Field()
  @Column('timestamptz')
  validFrom: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  validTo: Date | null;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  changedByKeyId: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  reason: string | null;
}
