/**
 * The typed records connectors produce, one kind per hub table. Every record has the vendor's id
 * (`externalId`, unique per connector and stream), the vendor's last-modified time, the request key of
 * the Nerve prediction that touched it if the vendor data carries one (for KPI attribution), and the
 * vendor's object as received (`raw`), so a field the hub does not model yet is never lost.
 */
export interface RecordBase {
  externalId: string;
  updatedAt: Date;
  requestKey: string | null;
  raw: Record<string, unknown>;
}

export interface TicketRecord extends RecordBase {
  kind: 'ticket';
  subject: string | null;
  /** Vendor status, lower case (new, open, pending, hold, solved, closed, deleted). */
  status: string;
  priority: string | null;
  channel: string | null;
  requesterId: string | null;
  assigneeId: string | null;
  groupId: string | null;
  tags: string[];
  /** The routing field a model sets (a custom field), if configured. */
  routing: string | null;
  createdAt: Date;
  /** When it was first solved; null while unsolved. */
  solvedAt: Date | null;
  /** Agent replies and reopens (Zendesk metric set), for first-contact resolution; null when unknown. */
  replies: number | null;
  reopens: number | null;
}

export interface RpaJobRecord extends RecordBase {
  kind: 'rpa_job';
  /** Orchestrator job state (Pending, Running, Successful, Faulted, Stopped, …). */
  state: string;
  releaseName: string | null;
  robotName: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface QueueItemRecord extends RecordBase {
  kind: 'queue_item';
  queueName: string | null;
  reference: string | null;
  /** New, InProgress, Failed, Successful, Abandoned, Retried, Deleted. */
  status: string;
  priority: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface CrmContactRecord extends RecordBase {
  kind: 'crm_contact';
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  lifecycleStage: string | null;
  createdAt: Date;
}

export interface CrmDealRecord extends RecordBase {
  kind: 'crm_deal';
  name: string | null;
  pipeline: string | null;
  stage: string | null;
  amount: number | null;
  /** True when closed won, false when closed lost, null while open. */
  won: boolean | null;
  closedAt: Date | null;
  createdAt: Date;
}

export type SyncedRecord = TicketRecord | RpaJobRecord | QueueItemRecord | CrmContactRecord | CrmDealRecord;
export type RecordKind = SyncedRecord['kind'];
