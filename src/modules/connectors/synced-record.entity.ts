import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Column, Index, PrimaryGeneratedColumn, Entity, type Relation } from 'typeorm';
import { References } from '../../db/references';
import { Connector } from './connector.entity';

/**
 * What every synced table has: the connector and project it came from, the vendor's id (unique per
 * connector: rows are upserted on it), the vendor's last-modified time, the request key of the Nerve
 * prediction that touched it, the vendor's object as received, and when the hub last wrote it.
 */
@ObjectType()
abstract class SyncedRecordBase {
  // Each table declares its own `id`, so its primary key constraint gets its own name.
  id: string;

  @Field(() => ID)
  @Column('uuid')
  connectorId: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field({ description: 'The vendor’s id' })
  @Column('text')
  externalId: string;

  @Field({ description: 'Last modified in the vendor system' })
  @Column('timestamptz')
  updatedAt: Date;

  @Field(() => String, { nullable: true, description: 'Request key of the Nerve prediction that touched it' })
  @Column('text', { nullable: true })
  requestKey: string | null;

  @Field(() => GraphQLJSONObject, { description: 'The vendor’s object as last received' })
  @Column('jsonb')
  raw: Record<string, unknown>;

  @Field()
  @Column('timestamptz')
  syncedAt: Date;
}

@ObjectType()
@Entity('ticket')
@Index('uq_ticket__connector_external', ['connectorId', 'externalId'], { unique: true })
@Index('idx_ticket__project_updated', ['projectId', 'updatedAt'])
@Index('idx_ticket__request_key', ['requestKey'])
export class Ticket extends SyncedRecordBase {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_ticket' })
  declare id: string;

  @References(() => Connector, 'connector_id', 'fk_ticket__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  subject: string | null;

  @Field({ description: 'new, open, pending, hold, solved, closed, deleted' })
  @Column('text')
  status: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  priority: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  channel: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  requesterId: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  assigneeId: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  groupId: string | null;

  @Field(() => [String])
  @Column('text', { array: true })
  tags: string[];

  @Field(() => String, { nullable: true, description: 'The routing field a model sets' })
  @Column('text', { nullable: true })
  routing: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  solvedAt: Date | null;

  @Field(() => Int, { nullable: true })
  @Column('int', { nullable: true })
  replies: number | null;

  @Field(() => Int, { nullable: true })
  @Column('int', { nullable: true })
  reopens: number | null;
}

@ObjectType()
@Entity('rpa_job')
@Index('uq_rpa_job__connector_external', ['connectorId', 'externalId'], { unique: true })
@Index('idx_rpa_job__project_updated', ['projectId', 'updatedAt'])
export class RpaJob extends SyncedRecordBase {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_rpa_job' })
  declare id: string;

  @References(() => Connector, 'connector_id', 'fk_rpa_job__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field({ description: 'Pending, Running, Successful, Faulted, Stopped, …' })
  @Column('text')
  state: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  releaseName: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  robotName: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  endedAt: Date | null;
}

@ObjectType()
@Entity('rpa_queue_item')
@Index('uq_rpa_queue_item__connector_external', ['connectorId', 'externalId'], { unique: true })
@Index('idx_rpa_queue_item__project_updated', ['projectId', 'updatedAt'])
export class RpaQueueItem extends SyncedRecordBase {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_rpa_queue_item' })
  declare id: string;

  @References(() => Connector, 'connector_id', 'fk_rpa_queue_item__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  queueName: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  reference: string | null;

  @Field({ description: 'New, InProgress, Failed, Successful, Abandoned, Retried, Deleted' })
  @Column('text')
  status: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  priority: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  endedAt: Date | null;
}

@ObjectType()
@Entity('crm_contact')
@Index('uq_crm_contact__connector_external', ['connectorId', 'externalId'], { unique: true })
@Index('idx_crm_contact__project_updated', ['projectId', 'updatedAt'])
export class CrmContact extends SyncedRecordBase {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_crm_contact' })
  declare id: string;

  @References(() => Connector, 'connector_id', 'fk_crm_contact__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  email: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  firstName: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  lastName: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  company: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  lifecycleStage: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;
}

@ObjectType()
@Entity('crm_deal')
@Index('uq_crm_deal__connector_external', ['connectorId', 'externalId'], { unique: true })
@Index('idx_crm_deal__project_updated', ['projectId', 'updatedAt'])
export class CrmDeal extends SyncedRecordBase {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_crm_deal' })
  declare id: string;

  @References(() => Connector, 'connector_id', 'fk_crm_deal__connector_id', { onDelete: 'CASCADE' })
  connector?: Relation<Connector>;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  name: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  pipeline: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  stage: string | null;

  @Field(() => Float, { nullable: true })
  @Column('double precision', { nullable: true })
  amount: number | null;

  @Field(() => Boolean, { nullable: true, description: 'True: closed won; false: closed lost; null: open' })
  @Column('boolean', { nullable: true })
  won: boolean | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  closedAt: Date | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;
}
