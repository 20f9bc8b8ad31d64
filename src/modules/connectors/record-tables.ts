import type { RecordKind, SyncedRecord } from '../../../connectors/_shared';

/** A typed column of a synced table: its SQL name and type, and how a record fills it. */
interface RecordColumn {
  name: string;
  type: 'text' | 'timestamptz' | 'int' | 'double precision' | 'boolean' | 'text[]' | 'jsonb';
  value: (record: never) => unknown;
}

/** A synced table and the columns its record kind fills beyond the common ones. */
export interface RecordTable {
  table: string;
  columns: RecordColumn[];
}

const col = <R>(name: string, type: RecordColumn['type'], value: (r: R) => unknown): RecordColumn => ({
  name,
  type,
  value: value as (record: never) => unknown,
});

type Of<K extends RecordKind> = Extract<SyncedRecord, { kind: K }>;

/** Each record kind's table. The common columns (ids, updated_at, request_key, raw) are added by the writer. */
export const RECORD_TABLES: { [K in RecordKind]: RecordTable } = {
  ticket: {
    table: 'ticket',
    columns: [
      col<Of<'ticket'>>('subject', 'text', (r) => r.subject),
      col<Of<'ticket'>>('status', 'text', (r) => r.status),
      col<Of<'ticket'>>('priority', 'text', (r) => r.priority),
      col<Of<'ticket'>>('channel', 'text', (r) => r.channel),
      col<Of<'ticket'>>('requester_id', 'text', (r) => r.requesterId),
      col<Of<'ticket'>>('assignee_id', 'text', (r) => r.assigneeId),
      col<Of<'ticket'>>('group_id', 'text', (r) => r.groupId),
      col<Of<'ticket'>>('tags', 'text[]', (r) => r.tags),
      col<Of<'ticket'>>('routing', 'text', (r) => r.routing),
      col<Of<'ticket'>>('created_at', 'timestamptz', (r) => r.createdAt),
      col<Of<'ticket'>>('solved_at', 'timestamptz', (r) => r.solvedAt),
      col<Of<'ticket'>>('replies', 'int', (r) => r.replies),
      col<Of<'ticket'>>('reopens', 'int', (r) => r.reopens),
    ],
  },
  rpa_job: {
    table: 'rpa_job',
    columns: [
      col<Of<'rpa_job'>>('state', 'text', (r) => r.state),
      col<Of<'rpa_job'>>('release_name', 'text', (r) => r.releaseName),
      col<Of<'rpa_job'>>('robot_name', 'text', (r) => r.robotName),
      col<Of<'rpa_job'>>('created_at', 'timestamptz', (r) => r.createdAt),
      col<Of<'rpa_job'>>('started_at', 'timestamptz', (r) => r.startedAt),
      col<Of<'rpa_job'>>('ended_at', 'timestamptz', (r) => r.endedAt),
    ],
  },
  queue_item: {
    table: 'rpa_queue_item',
    columns: [
      col<Of<'queue_item'>>('queue_name', 'text', (r) => r.queueName),
      col<Of<'queue_item'>>('reference', 'text', (r) => r.reference),
      col<Of<'queue_item'>>('status', 'text', (r) => r.status),
      col<Of<'queue_item'>>('priority', 'text', (r) => r.priority),
      col<Of<'queue_item'>>('created_at', 'timestamptz', (r) => r.createdAt),
      col<Of<'queue_item'>>('started_at', 'timestamptz', (r) => r.startedAt),
      col<Of<'queue_item'>>('ended_at', 'timestamptz', (r) => r.endedAt),
    ],
  },
  crm_contact: {
    table: 'crm_contact',
    columns: [
      col<Of<'crm_contact'>>('email', 'text', (r) => r.email),
      col<Of<'crm_contact'>>('first_name', 'text', (r) => r.firstName),
      col<Of<'crm_contact'>>('last_name', 'text', (r) => r.lastName),
      col<Of<'crm_contact'>>('company', 'text', (r) => r.company),
      col<Of<'crm_contact'>>('lifecycle_stage', 'text', (r) => r.lifecycleStage),
      col<Of<'crm_contact'>>('created_at', 'timestamptz', (r) => r.createdAt),
    ],
  },
  crm_deal: {
    table: 'crm_deal',
    columns: [
      col<Of<'crm_deal'>>('name', 'text', (r) => r.name),
      col<Of<'crm_deal'>>('pipeline', 'text', (r) => r.pipeline),
      col<Of<'crm_deal'>>('stage', 'text', (r) => r.stage),
      col<Of<'crm_deal'>>('amount', 'double precision', (r) => r.amount),
      col<Of<'crm_deal'>>('won', 'boolean', (r) => r.won),
      col<Of<'crm_deal'>>('closed_at', 'timestamptz', (r) => r.closedAt),
      col<Of<'crm_deal'>>('created_at', 'timestamptz', (r) => r.createdAt),
    ],
  },
};
