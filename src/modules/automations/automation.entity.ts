import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { bigintAsNumber } from '../../common/columns';
import { GraphQLJSONObject } from '../../common/json-scalar';
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';

export enum AutomationTriggerKind {
  /** A domain event of the project (a record synced, an alert, a drift report, a rollout, ...). */
  EVENT = 'EVENT',
  /** A cron schedule. */
  SCHEDULE = 'SCHEDULE',
  /**
   * A signed request from any system to POST /webhooks/automations/<id> (Standard Webhooks headers,
   * signed with the automation's signing secret); its JSON body is the run's `webhook.payload`.
   */
  WEBHOOK = 'WEBHOOK',
}
registerEnumType(AutomationTriggerKind, { name: 'AutomationTriggerKind' });

export enum AutomationStepKind {
  /** Scores the mapped input on an endpoint; the request key defaults to the record's id. */
  PREDICT = 'PREDICT',
  /** Ends the run (the rest skipped) when its expression is false. */
  CONDITION = 'CONDITION',
  /** Runs a connector action (Zendesk updateTicket, UiPath addQueueItem, ...), once per run and step. */
  CONNECTOR_ACTION = 'CONNECTOR_ACTION',
  /** Posts the mapped payload to a URL, signed with Standard Webhooks headers. */
  WEBHOOK = 'WEBHOOK',
  /** Starts a pipeline on an orchestrator connector (Airflow, Argo, Temporal) and records it as a Run. */
  TRIGGER_PIPELINE = 'TRIGGER_PIPELINE',
}
registerEnumType(AutomationStepKind, { name: 'AutomationStepKind' });

export enum AutomationStatus {
  ACTIVE = 'ACTIVE',
  /** Triggers are not turned into runs; runs under way finish. */
  PAUSED = 'PAUSED',
}
registerEnumType(AutomationStatus, { name: 'AutomationStatus' });

export enum RecordChange {
  CREATED = 'CREATED',
  UPDATED = 'UPDATED',
  /** Created or updated. */
  ANY = 'ANY',
}
registerEnumType(RecordChange, { name: 'RecordChange' });

export enum AutomationRunStatus {
  /** Waiting for a runner (new, or retrying after a temporary failure at `nextAttemptAt`). */
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}
registerEnumType(AutomationRunStatus, { name: 'AutomationRunStatus' });

export enum AutomationStepStatus {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  SKIPPED = 'SKIPPED',
}
registerEnumType(AutomationStepStatus, { name: 'AutomationStepStatus' });

@ObjectType({ description: 'What starts an automation' })
export class AutomationTrigger {
  @Field(() => AutomationTriggerKind)
  kind: AutomationTriggerKind;

  @Field(() => String, {
    nullable: true,
    description:
      'EVENT: the domain event type (e.g. records.synced, alert.changed, drift.reported, rollout.changed)',
  })
  event?: string | null;

  @Field(() => RecordChange, {
    nullable: true,
    description: 'records.synced: which records start a run (one run per record)',
  })
  change?: RecordChange | null;

  @Field(() => ID, { nullable: true, description: 'records.synced: only records of this connector' })
  connectorId?: string | null;

  @Field(() => String, { nullable: true, description: 'records.synced: only records of this stream' })
  stream?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A JSONata expression over the trigger document; a run starts only when it is true',
  })
  filter?: string | null;

  @Field(() => String, { nullable: true, description: 'SCHEDULE: a cron pattern (5 or 6 fields)' })
  schedule?: string | null;
}

@ObjectType({ description: 'One step of an automation' })
export class AutomationStep {
  @Field({ description: 'Unique in the automation; later steps read its output as steps.<name>' })
  name: string;

  @Field(() => AutomationStepKind)
  kind: AutomationStepKind;

  @Field(() => String, {
    nullable: true,
    description: 'JSONata: the step runs only when true (else SKIPPED); absent: always',
  })
  when?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'JSONata producing the step input (an object) from the trigger document and earlier steps',
  })
  input?: string | null;

  @Field(() => GraphQLJSONObject, {
    description:
      'The kind’s settings: endpoint (PREDICT), connector and action (CONNECTOR_ACTION, TRIGGER_PIPELINE), url (WEBHOOK)',
  })
  settings: Record<string, unknown>;
}

/**
 * An automation: a trigger and steps. Each trigger occurrence (an event, a record, a tick) becomes at
 * most one run (AutomationRun, unique per trigger key), carried out step by step by the runners.
 */
@ObjectType()
@Entity('automation')
@Index('uq_automation__project_name', ['projectId', 'name'], { unique: true })
export class Automation {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_automation' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_automation__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field()
  @Column('text')
  name: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description: string | null;

  @Field(() => AutomationStatus)
  @Column('enum', { enum: AutomationStatus, enumName: 'automation_status', default: AutomationStatus.ACTIVE })
  status: AutomationStatus;

  @Field(() => AutomationTrigger)
  @Column('jsonb')
  trigger: AutomationTrigger;

  @Field(() => [AutomationStep])
  @Column('jsonb')
  steps: AutomationStep[];

  @Field(() => Int, { description: 'Runs of this automation carried out at once, across replicas' })
  @Column('int', { default: 4 })
  maxConcurrentRuns: number;

  @Field(() => Int, { description: 'Attempts of a run that keeps failing temporarily before it fails' })
  @Column('int', { default: 5 })
  maxAttempts: number;

  /** Events at or before this outbox position (before the automation existed) start no run. */
  @Column('bigint', { transformer: bigintAsNumber })
  sincePosition: number;

  @Field(() => Int, { description: 'Grows with every update; a run records the version it ran' })
  @Column('int', { default: 1 })
  version: number;

  @Field()
  @Column('timestamptz')
  createdAt: Date;

  @Field()
  @Column('timestamptz')
  updatedAt: Date;
}

@ObjectType({ description: 'A step as a run carried it out' })
export class AutomationStepRun {
  @Field()
  name: string;

  @Field(() => AutomationStepKind)
  kind: AutomationStepKind;

  @Field(() => AutomationStepStatus)
  status: AutomationStepStatus;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Personal fields masked per the data policy',
  })
  input: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Personal fields masked per the data policy',
  })
  output: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field(() => String, { nullable: true, description: 'TEMPORARY (retried) or PERMANENT' })
  errorKind: string | null;

  @Field(() => Int)
  attempts: number;

  @Field(() => Date, { nullable: true })
  startedAt: Date | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;
}

/** One execution of an automation for one trigger occurrence. */
@ObjectType()
@Entity('automation_run')
@Index('uq_automation_run__trigger_key', ['automationId', 'triggerKey'], { unique: true })
@Index('idx_automation_run__automation_created', ['automationId', 'createdAt'])
@Index('idx_automation_run__due', ['nextAttemptAt'], { where: "status IN ('PENDING', 'RUNNING')" })
export class AutomationRun {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_automation_run' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  automationId: string;

  @References(() => Automation, 'automation_id', 'fk_automation_run__automation_id', { onDelete: 'CASCADE' })
  automation?: Relation<Automation>;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field({ description: 'What occurred, once per automation: e.g. record:<connector>:<id>:created' })
  @Column('text')
  triggerKey: string;

  @Field(() => Int, { description: 'The automation version the run carries out' })
  @Column('int')
  automationVersion: number;

  @Field(() => AutomationRunStatus)
  @Column('enum', { enum: AutomationRunStatus, enumName: 'automation_run_status' })
  status: AutomationRunStatus;

  /** The trigger document the steps read (event, record, tick); masked when shown. */
  @Column('jsonb')
  document: Record<string, unknown>;

  @Field(() => [AutomationStepRun])
  @Column('jsonb')
  steps: AutomationStepRun[];

  @Field(() => Int, { description: 'Attempts so far (a temporary failure retries the run from its step)' })
  @Column('int', { default: 0 })
  attempts: number;

  @Field({ description: 'When a runner may take it next' })
  @Column('timestamptz')
  nextAttemptAt: Date;

  /** A runner holds the run until then; a runner that died leaves it to be taken over after. */
  @Column('timestamptz', { nullable: true })
  leaseUntil: Date | null;

  /** Drawn at each claim: a runner writes the run only while it still holds this token. */
  @Column('uuid', { nullable: true })
  leaseToken: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  error: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  errorKind: string | null;

  @Field()
  @Column('timestamptz')
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  finishedAt: Date | null;
}
