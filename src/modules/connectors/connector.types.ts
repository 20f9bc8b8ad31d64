import { GraphQLJSONObject } from '../../common/json-scalar';
import { ArgsType, Field, ID, InputType, ObjectType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { ConnectorErrorKind, Connector, SyncRun } from './connector.entity';
import { CrmContact, CrmDeal, RpaJob, RpaQueueItem, Ticket } from './synced-record.entity';

@InputType()
export class CreateConnectorInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'Unique in the project' })
  name: string;

  @Field({
    description: 'The adapter, e.g. zendesk, hubspot, uipath, airflow, argo, temporal (see connectorKinds)',
  })
  kind: string;

  @Field(() => GraphQLJSONObject, { description: 'Checked against the kind’s config spec' })
  config: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, {
    description: 'Credentials, checked against the kind’s secrets spec; encrypted at rest and never returned',
  })
  secrets: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description: 'node-cron pattern, e.g. "*/15 * * * *"; null: manual only',
  })
  schedule?: string | null;
}

@InputType()
export class UpdateConnectorInput {
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the config as a whole' })
  config?: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Secrets to set; the ones not given keep their values',
  })
  secrets?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: 'A node-cron pattern; "" removes the schedule' })
  schedule?: string | null;

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean | null;
}

@ObjectType({ description: 'Whether a connector’s config and credentials work (Airbyte’s check)' })
export class ConnectorCheck {
  @Field()
  ok: boolean;

  @Field({ description: 'What is wrong, or "ok"' })
  message: string;

  @Field(() => ConnectorErrorKind, { nullable: true })
  errorKind: ConnectorErrorKind | null;
}

@ObjectType()
export class ConnectorField {
  @Field()
  name: string;

  @Field({ description: 'string, url, integer, boolean, string[] or object' })
  type: string;

  @Field()
  description: string;

  @Field()
  required: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true, description: '{ value } when the field has a default' })
  default: { value: unknown } | null;

  @Field(() => [String], { nullable: true })
  oneOf: string[] | null;
}

@ObjectType({ description: 'A stream a connector reads (Airbyte’s discover)' })
export class ConnectorStreamSpec {
  @Field()
  name: string;

  @Field({ description: 'ticket, rpa_job, queue_item, crm_contact or crm_deal' })
  recordKind: string;

  @Field()
  primaryKey: string;

  @Field()
  cursorField: string;
}

@ObjectType()
export class ConnectorActionSpec {
  @Field()
  name: string;

  @Field()
  description: string;

  @Field(() => [ConnectorField])
  input: ConnectorField[];
}

@ObjectType({ description: 'An adapter the hub has: its spec, streams and actions' })
export class ConnectorKind {
  @Field()
  kind: string;

  @Field()
  title: string;

  @Field(() => [ConnectorField])
  config: ConnectorField[];

  @Field(() => [ConnectorField])
  secrets: ConnectorField[];

  @Field(() => [ConnectorStreamSpec])
  streams: ConnectorStreamSpec[];

  @Field(() => [ConnectorActionSpec])
  actions: ConnectorActionSpec[];
}

@InputType()
export class RunConnectorActionInput {
  @Field(() => ID)
  connector: string;

  @Field({ description: 'e.g. addQueueItem (uipath), createTicket or updateTicket (zendesk)' })
  action: string;

  @Field(() => GraphQLJSONObject, { description: 'Checked against the action’s input spec' })
  input: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns the first result; passed to the vendor where it has one',
  })
  idempotencyKey?: string | null;
}

@ObjectType()
export class ConnectorActionResult {
  @Field({ description: 'The vendor’s id of what was created or changed' })
  externalId: string;

  @Field()
  stream: string;

  @Field(() => GraphQLJSONObject, { description: 'The vendor’s object as returned' })
  raw: Record<string, unknown>;
}

@ArgsType()
export class ConnectorsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

@ArgsType()
export class SyncRunsArgs extends PageArgs {
  @Field(() => ID)
  connector: string;
}

@ArgsType()
export class SyncRunChangedArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => ID, { nullable: true, description: 'Only this connector' })
  connector?: string | null;
}

@ArgsType()
export class SyncedRecordsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => ID, { nullable: true, description: 'Only this connector’s records' })
  connector?: string | null;

  @Field(() => Date, { nullable: true, description: 'Modified in the vendor at or after' })
  updatedFrom?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Modified in the vendor before' })
  updatedTo?: Date | null;

  @Field(() => String, { nullable: true })
  requestKey?: string | null;

  @Field(() => String, { nullable: true })
  externalId?: string | null;
}

@ArgsType()
export class TicketsArgs extends SyncedRecordsArgs {
  @Field(() => [String], { nullable: true })
  statuses?: string[] | null;

  @Field(() => String, { nullable: true })
  routing?: string | null;

  @Field(() => String, { nullable: true, description: 'Tickets carrying this tag' })
  tag?: string | null;
}

@ArgsType()
export class RpaJobsArgs extends SyncedRecordsArgs {
  @Field(() => [String], { nullable: true })
  states?: string[] | null;

  @Field(() => String, { nullable: true })
  releaseName?: string | null;
}

@ArgsType()
export class QueueItemsArgs extends SyncedRecordsArgs {
  @Field(() => [String], { nullable: true })
  statuses?: string[] | null;

  @Field(() => String, { nullable: true })
  queueName?: string | null;
}

@ArgsType()
export class CrmContactsArgs extends SyncedRecordsArgs {
  @Field(() => String, { nullable: true })
  lifecycleStage?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;
}

@ArgsType()
export class CrmDealsArgs extends SyncedRecordsArgs {
  @Field(() => [String], { nullable: true })
  stages?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: 'true: won; false: lost' })
  won?: boolean | null;
}

export const ConnectorConnection = Connection(Connector);
export const SyncRunConnection = Connection(SyncRun);
export const TicketConnection = Connection(Ticket);
export const RpaJobConnection = Connection(RpaJob);
export const RpaQueueItemConnection = Connection(RpaQueueItem);
export const CrmContactConnection = Connection(CrmContact);
export const CrmDealConnection = Connection(CrmDeal);
