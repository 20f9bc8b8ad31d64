import {
  checkSignature,
  checkWindow,
  hmacSha256,
  isoTime,
  jsonBody,
  permanent,
  refused,
  signedHeaders,
} from '../_shared';
import type { ConfigValues, WebhookDelivery, WebhookRequest, WebhookSpec, WebhookVerdict } from '../_shared';
import { isObject } from './client';
import { mapTicket, ticketMapping } from './mapper';
import { TICKETS } from './sync';

const SIGNATURE = 'X-Zendesk-Webhook-Signature';
const TIMESTAMP = 'X-Zendesk-Webhook-Signature-Timestamp';
const SECRET_FIELD = 'webhookSecret';
/** Every ticket event's type starts so; its `detail` is the ticket after the change. */
const TICKET_EVENT = 'zen:event-type:ticket.';
const CUSTOM_FIELD_CHANGED = 'zen:event-type:ticket.custom_field_changed';
const TICKET_SUBJECT = /^zen:ticket:([1-9][0-9]*)$/;

/**
 * Zendesk webhooks subscribed to ticket events (event subscriptions, not trigger webhooks with a body
 * of one's own). Zendesk signs `timestamp + body` with the webhook's signing secret:
 * `X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + body))`, the timestamp being
 * `X-Zendesk-Webhook-Signature-Timestamp` (ISO 8601) as sent. One event per request.
 */
export const zendeskWebhook: WebhookSpec = {
  secretField: SECRET_FIELD,
  verify,
  parse,
};

function verify(request: WebhookRequest, secret: string, now: Date): WebhookVerdict {
  const headers = signedHeaders(
    request,
    { value: secret, what: 'webhook signing secret', field: SECRET_FIELD },
    SIGNATURE,
    TIMESTAMP,
  );
  if (!Array.isArray(headers)) return headers;
  const [signature, timestamp] = headers;
  const at = isoTime(timestamp);
  if (at === undefined) return refused(400, `${TIMESTAMP} is not an ISO 8601 time`);
  const signed = checkSignature(SIGNATURE, signature, hmacSha256(secret, timestamp, request.body));
  return signed.ok ? checkWindow(TIMESTAMP, at, now) : signed;
}

/**
 * A ticket event becomes the `tickets` record the export would give, by the same mapper. The event's
 * `detail` lacks what the export has beyond the ticket's core fields: no metric set (solved time,
 * replies and reopens map to null) and no custom fields, except the one a `custom_field_changed` event
 * names, which is mapped from its current value. Other events (users, organizations, …) carry nothing
 * the connector models.
 */
function parse(request: WebhookRequest, config: ConfigValues): WebhookDelivery[] {
  const event = jsonBody(request);
  if (!isObject(event)) throw permanent('Zendesk webhook: the body is not a JSON object');
  const type = event.type;
  if (typeof type !== 'string' || type === '') throw permanent('Zendesk webhook: the event has no type');
  const id = event.id;
  if (typeof id !== 'string' || id === '') throw permanent(`Zendesk webhook ${type}: the event has no id`);
  const delivery: WebhookDelivery = { deliveryId: id, eventType: type, records: [], refs: [] };
  if (type.startsWith(TICKET_EVENT)) {
    const where = `webhook event ${id} (${type})`;
    const record = mapTicket(ticketOf(event, where), where, ticketMapping(config));
    delivery.records.push({ stream: TICKETS, record });
  }
  return [delivery];
}

/** The ticket in `detail`, its id taken from `subject` when `detail` has none. */
function ticketOf(event: Record<string, unknown>, where: string): Record<string, unknown> {
  const detail = event.detail;
  if (!isObject(detail)) throw permanent(`Zendesk ${where}: the event has no ticket detail`);
  const subject = typeof event.subject === 'string' ? TICKET_SUBJECT.exec(event.subject)?.[1] : undefined;
  const ticket: Record<string, unknown> = { ...detail };
  if (ticket.id === undefined || ticket.id === null) ticket.id = subject;
  else if (subject !== undefined && String(ticket.id) !== subject)
    throw permanent(`Zendesk ${where}: detail.id and subject name different tickets`);
  const field = event.type === CUSTOM_FIELD_CHANGED ? changedField(event.event) : undefined;
  if (field) ticket.custom_fields = [field];
  return ticket;
}

/** `event: {custom_field: {id}, current: {value}}` as a ticket's `custom_fields` entry. */
function changedField(change: unknown): { id: number; value: unknown } | undefined {
  if (!isObject(change) || !isObject(change.custom_field)) return undefined;
  const id = Number(change.custom_field.id);
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return { id, value: isObject(change.current) ? change.current.value : null };
}
