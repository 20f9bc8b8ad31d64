import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { bigintAsNumber } from '../../common/columns';
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';

/**
 * A configured source of business data (a HubSpot portal, an Orchestrator folder, a Zendesk
 * account): plain config, encrypted secrets that are never read back, an optional cron schedule.
 */
@ObjectType()
@Entity('connector')
@Index('uq_connector__project_name', ['projectId', 'name'], { unique: true })
export class Connector {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_connector' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_connector__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field()
  @Column('text')
  name: string;

  @Field({
    description: 'The adapter, e.g. zendesk, hubspot, uipath, airflow, argo, temporal (see connectorKinds)',
  })
  @Column('text')
  kind: string;

  @Field(() => GraphQLJSONObject, { description: 'Validated against the kind’s spec; never holds secrets' })
  @Column('jsonb')
  config: Record<string, unknown>;

  /** AES-256-GCM under NERVE_SECRET_KEY, bound to the connector id; never exposed. */
  @Column('text')
  secretsCiphertext: string;

  @Field(() => [String], { description: 'Names of the secrets set (their values are write-only)' })
  @Column('text', { array: true, default: () => "'{}'" })
  secretNames: string[];

  @Field(() => String, {
    nullable: true,
    description: 'node-cron pattern (5 or 6 fields); null: manual only',
  })
  @Column('text', { nullable: true })
  schedule: string | null;

  @Field({ description: 'A disabled connector keeps its data and state but never syncs' })
  @Column('boolean', { default: true })
  enabled: boolean;

  @Field()
  @Column('timestamptz')
  createdAt: Date;

  @Field()
  @Column('timestamptz')
  updatedAt: Date;
}

/** Where a stream of a connector stands: the state after the last page written. */
@ObjectType()
@Entity('connector_stream')
export class ConnectorStream {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_connector_stream' })
  connectorId: string;

  @References(() => Connector, 'connector_id', 'fk_connector_stream__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field()
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_connector_stream' })
  stream: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The adapter’s cursor, opaque to the hub' })
  @Column('jsonb', { nullable: true })
  state: Record<string, unknown> | null;

  @Field(() => Int, { description: 'Records written from this stream, all runs' })
  @Column('bigint', { default: 0, transformer: bigintAsNumber })
  recordsSynced: number;

  @Field()
  @Column('timestamptz')
  updatedAt: Date;
}

export enum SyncRunStatus {
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  /** Some streams failed; the others are up to date. */
  PARTIAL = 'PARTIAL',
  FAILED = 'FAILED',
}
registerEnumType(SyncRunStatus, { name: 'SyncRunStatus' });

export enum SyncTrigger {
  SCHEDULE = 'SCHEDULE',
  MANUAL = 'MANUAL',
}
registerEnumType(SyncTrigger, { name: 'SyncTrigger' });

export enum ConnectorErrorKind {
  TEMPORARY = 'TEMPORARY',
  PERMANENT = 'PERMANENT',
}
registerEnumType(ConnectorErrorKind, {
  name: 'ConnectorErrorKind',
  description: 'TEMPORARY: the next sync may succeed. PERMANENT: a person must fix config or credentials',
});

/** One stream's part of a sync run. */
@ObjectType()
export class SyncStreamStatus {
  @Field()
  stream: string;

  @Field(() => SyncRunStatus)
  status: SyncRunStatus;

  @Field(() => Int)
  pages: number;

  @Field(() => Int, { description: 'Records written (upserted) in this run' })
  records: number;

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field(() => ConnectorErrorKind, { nullable: true })
  errorKind: ConnectorErrorKind | null;
}

/** One sync of a connector, with per-stream progress. */
@ObjectType()
@Entity('sync_run')
@Index('idx_sync_run__connector_started', ['connectorId', 'startedAt'])
@Index('uq_sync_run__running', ['connectorId'], { unique: true, where: "status = 'RUNNING'" })
@Index('uq_sync_run__idempotency', ['connectorId', 'requestedByKeyId', 'idempotencyKey'], {
  unique: true,
  where: 'idempotency_key IS NOT NULL',
})
export class SyncRun {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_sync_run' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  connectorId: string;

  @References(() => Connector, 'connector_id', 'fk_sync_run__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => SyncTrigger)
  @Column('enum', { enum: SyncTrigger, enumName: 'sync_trigger' })
  trigger: SyncTrigger;

  @Field(() => SyncRunStatus)
  @Column('enum', { enum: SyncRunStatus, enumName: 'sync_run_status' })
  status: SyncRunStatus;

  @Field(() => [SyncStreamStatus])
  @Column('jsonb', { default: () => "'[]'" })
  streams: SyncStreamStatus[];

  @Field(() => String, {
    nullable: true,
    description: 'Why the run failed as a whole (e.g. the check failed)',
  })
  @Column('text', { nullable: true })
  error: string | null;

  @Field(() => ConnectorErrorKind, { nullable: true })
  @Column('enum', { enum: ConnectorErrorKind, enumName: 'connector_error_kind', nullable: true })
  errorKind: ConnectorErrorKind | null;

  @Field(() => ID, { nullable: true, description: 'The key that asked for it; null for scheduled runs' })
  @Column('uuid', { nullable: true })
  requestedByKeyId: string | null;

  /** The syncConnector idempotency key it answered; a retry with it returns this run. */
  @Column('text', { nullable: true })
  idempotencyKey: string | null;

  @Field()
  @Column('timestamptz')
  startedAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  finishedAt: Date | null;
}

/**
 * A vendor webhook delivery received for a connector, by the vendor's delivery id: a replay of it
 * (a captured request sent again inside the signature's time window) is refused.
 */
@Entity('connector_webhook_delivery')
@Index('idx_connector_webhook_delivery__received', ['receivedAt'])
export class ConnectorWebhookDelivery {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_connector_webhook_delivery' })
  connectorId: string;

  @References(() => Connector, 'connector_id', 'fk_connector_webhook_delivery__connector_id', {
    onDelete: 'CASCADE',
  })
  connector?: Relation<Connector>;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_connector_webhook_delivery' })
  deliveryId: string;

  @Column('text')
  eventType: string;

  @Column('timestamptz')
  receivedAt: Date;
}
