import { permanent } from '../_shared/errors';
import type { QueueItemRecord, RpaJobRecord } from '../_shared/records';

/** What mapping needs besides the vendor object; the mapper itself reads no clock and no network. */
export interface MapContext {
  /** The key under which a Nerve request key travels (InputArguments / SpecificContent). */
  requestKeyField: string;
  /** When the page was fetched: the last resort for `updatedAt` when Orchestrator sends no usable time. */
  fetchedAt: Date;
}

export interface QueueItemMapContext extends MapContext {
  /** QueueDefinitionId → queue name, for the folder. */
  queueNames: ReadonlyMap<number, string>;
}

/**
 * The vendor id of a record, or a PERMANENT error naming the stream and where the record sat: a record
 * without an id can be neither stored nor paged past, and dropping it silently would lose it.
 */
export function recordId(raw: Record<string, unknown>, stream: string, position: string): string {
  const id = raw.Id;
  if ((typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && id !== ''))
    return String(id);
  throw permanent(`UiPath Orchestrator ${stream}: ${position} has no Id; the sync stops rather than drop it`);
}

/** An Orchestrator job as an `rpa_job` record. Unknown fields stay in `raw` only; missing ones map to null. */
export function mapJob(raw: Record<string, unknown>, ctx: MapContext, position: string): RpaJobRecord {
  const externalId = recordId(raw, 'jobs', position);
  const updatedAt = date(raw.LastModificationTime) ?? date(raw.CreationTime) ?? ctx.fetchedAt;
  const robot = raw.Robot;
  return {
    kind: 'rpa_job',
    externalId,
    updatedAt,
    requestKey: keyIn(parseArguments(raw.InputArguments), ctx.requestKeyField),
    raw,
    state: str(raw.State) ?? 'Unknown',
    releaseName: str(raw.ReleaseName),
    robotName:
      typeof robot === 'object' && robot !== null ? str((robot as Record<string, unknown>).Name) : null,
    createdAt: date(raw.CreationTime) ?? updatedAt,
    startedAt: date(raw.StartTime),
    endedAt: date(raw.EndTime),
  };
}

/** An Orchestrator queue item as a `queue_item` record. */
export function mapQueueItem(
  raw: Record<string, unknown>,
  ctx: QueueItemMapContext,
  position: string,
): QueueItemRecord {
  const externalId = recordId(raw, 'queueItems', position);
  const updatedAt = date(raw.LastModificationTime) ?? date(raw.CreationTime) ?? ctx.fetchedAt;
  const queueId = raw.QueueDefinitionId;
  const content = raw.SpecificContent;
  return {
    kind: 'queue_item',
    externalId,
    updatedAt,
    requestKey: keyIn(isObject(content) ? content : null, ctx.requestKeyField),
    raw,
    queueName: typeof queueId === 'number' ? (ctx.queueNames.get(queueId) ?? null) : null,
    reference: str(raw.Reference),
    status: str(raw.Status) ?? 'Unknown',
    priority: str(raw.Priority),
    createdAt: date(raw.CreationTime) ?? updatedAt,
    startedAt: date(raw.StartProcessing),
    endedAt: date(raw.EndProcessing),
  };
}

/** ISO 8601 → Date; anything else (null, missing, garbage) → null. */
export function date(value: unknown): Date | null {
  if (typeof value !== 'string' || value === '') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** Jobs carry InputArguments as a JSON string; a value that is not a JSON object yields null. */
function parseArguments(value: unknown): Record<string, unknown> | null {
  if (isObject(value)) return value;
  if (typeof value !== 'string' || value === '') return null;
  try {
    const parsed: unknown = JSON.parse(value);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function keyIn(bag: Record<string, unknown> | null, field: string): string | null {
  const v = bag?.[field];
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
