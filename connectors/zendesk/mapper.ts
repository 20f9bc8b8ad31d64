import { permanent } from '../_shared';
import type { ConfigValues, TicketRecord } from '../_shared';

/** Which custom fields carry Nerve's values, from the connector config. */
export interface TicketMapping {
  routingFieldId?: number;
  requestKeyFieldId?: number;
}

/** The mapping a connector's (validated) config asks for. */
export function ticketMapping(config: ConfigValues): TicketMapping {
  return {
    routingFieldId: optionalInteger(config.routingFieldId),
    requestKeyFieldId: optionalInteger(config.requestKeyFieldId),
  };
}

/** An integer config value, or undefined when the field is unset. */
export function optionalInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The `metric_sets` sideload by ticket id; entries without a usable `ticket_id` are ignored. */
export function indexMetricSets(sets: unknown[]): Map<string, Json> {
  const byTicket = new Map<string, Json>();
  for (const set of sets) {
    if (!isObject(set)) continue;
    const id = idString(set.ticket_id);
    if (id !== null) byTicket.set(id, set);
  }
  return byTicket;
}

/** A Zendesk ticket's id as a string, or null when it has none usable. */
export function ticketId(raw: unknown): string | null {
  return isObject(raw) ? idString(raw.id) : null;
}

/**
 * A Zendesk ticket (and its metric set, if sideloaded) as a TicketRecord. Pure and forgiving: a missing
 * or wrong-typed field becomes null (tags: empty), fields the record does not model stay in `raw`. Only a
 * ticket without an id is refused, with a PERMANENT error naming `where` it was.
 */
export function mapTicket(
  raw: unknown,
  where: string,
  mapping: TicketMapping,
  metricSet?: Json,
): TicketRecord {
  const id = ticketId(raw);
  if (id === null || !isObject(raw)) throw permanent(`Zendesk ${where} has no id`);
  const updatedAt = date(raw.updated_at) ?? unixDate(raw.generated_timestamp) ?? date(raw.created_at);
  const createdAt = date(raw.created_at) ?? updatedAt;
  const via = isObject(raw.via) ? raw.via : undefined;
  const status = text(raw.status);
  return {
    kind: 'ticket',
    externalId: id,
    // The record needs a time; a ticket Zendesk sends without any is placed at the epoch, never dropped.
    updatedAt: updatedAt ?? new Date(0),
    createdAt: createdAt ?? new Date(0),
    requestKey: customField(raw, mapping.requestKeyFieldId),
    raw: metricSet ? { ...raw, metric_set: metricSet } : raw,
    subject: text(raw.subject),
    status: status === null ? 'unknown' : status.toLowerCase(),
    priority: lower(raw.priority),
    channel: via ? lower(via.channel) : null,
    requesterId: idString(raw.requester_id),
    assigneeId: idString(raw.assignee_id),
    groupId: idString(raw.group_id),
    tags: Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === 'string') : [],
    routing: customField(raw, mapping.routingFieldId),
    solvedAt: metricSet ? date(metricSet.solved_at) : null,
    replies: metricSet ? count(metricSet.replies) : null,
    reopens: metricSet ? count(metricSet.reopens) : null,
  };
}

/** `custom_fields: [{id, value}]`; a string or number value, else null. */
function customField(ticket: Json, fieldId: number | undefined): string | null {
  if (fieldId === undefined || !Array.isArray(ticket.custom_fields)) return null;
  const entry = ticket.custom_fields.find((f) => isObject(f) && Number(f.id) === fieldId);
  if (!isObject(entry)) return null;
  const value = entry.value;
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function idString(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^[1-9][0-9]*$/.test(value)) return value;
  return null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function lower(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value.toLowerCase() : null;
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;
}

function date(value: unknown): Date | null {
  if (typeof value !== 'string' || value === '') return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

function unixDate(value: unknown): Date | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? new Date(value * 1000) : null;
}
