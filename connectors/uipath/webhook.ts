import type {
  ConfigValues,
  WebhookDelivery,
  WebhookRequest,
  WebhookSpec,
  WebhookVerdict,
} from '../_shared/contract';
import { permanent } from '../_shared/errors';
import type { SyncedRecord } from '../_shared/records';
import {
  checkSignature,
  checkWindow,
  hmacSha256,
  isoTime,
  jsonBody,
  refused,
  signedHeaders,
} from '../_shared/webhook';
import { mapJob, mapQueueItem } from './mapper';
import type { UiPathStream } from './sync';

const SIGNATURE = 'X-UiPath-Signature';
const SECRET_FIELD = 'webhookSecret';
const DEFAULT_REQUEST_KEY_FIELD = 'NerveRequestKey';

type Json = Record<string, unknown>;

/**
 * Orchestrator webhooks: `X-UiPath-Signature = base64(HMAC-SHA256(secret, body))` with the secret set on
 * the webhook. No header carries a time, so the window is checked on the signed body's `Timestamp`. One
 * event per request.
 */
export const uipathWebhook: WebhookSpec = {
  secretField: SECRET_FIELD,
  verify,
  parse,
};

function verify(request: WebhookRequest, secret: string, now: Date): WebhookVerdict {
  const headers = signedHeaders(
    request,
    { value: secret, what: 'webhook secret', field: SECRET_FIELD },
    SIGNATURE,
  );
  if (!Array.isArray(headers)) return headers;
  const [signature] = headers;
  const signed = checkSignature(SIGNATURE, signature, hmacSha256(secret, request.body));
  if (!signed.ok) return signed;
  const event = jsonBody(request);
  if (!isObject(event)) return refused(400, 'the signed body is not a JSON object');
  const at = isoTime(event.Timestamp);
  if (at === undefined) return refused(400, 'the signed body has no ISO 8601 Timestamp');
  return checkWindow('the event Timestamp', at, now);
}

/**
 * Job events carry the job (`Job`, or `Jobs` for several) and queue item events the item (`QueueItem`
 * or `QueueItems`) with its queue (`Queue`), mapped by the sync's mappers. Events of another folder than
 * the connector's (`FolderId`, or `OrganizationUnitId` in older versions) carry nothing, as a sync of
 * this folder would never see them; nor do robot, queue, process or trigger events.
 *
 * Orchestrator's event objects have no `LastModificationTime`: the change the event reports is the
 * record's last one, so its `Timestamp` becomes `updatedAt`, where the mapper would fall back to the
 * creation time.
 */
function parse(request: WebhookRequest, config: ConfigValues): WebhookDelivery[] {
  const event = jsonBody(request);
  if (!isObject(event)) throw permanent('UiPath Orchestrator webhook: the body is not a JSON object');
  const type = event.Type;
  if (typeof type !== 'string' || type === '')
    throw permanent('UiPath Orchestrator webhook: the event has no Type');
  const id = event.EventId;
  if (!isId(id)) throw permanent(`UiPath Orchestrator webhook ${type}: the event has no EventId`);
  const delivery: WebhookDelivery = { deliveryId: String(id), eventType: type, records: [], refs: [] };
  const what = `UiPath Orchestrator webhook ${type} ${id}`;
  const at = isoTime(event.Timestamp);
  if (at === undefined) throw permanent(`${what}: the event has no ISO 8601 Timestamp`);

  const folderId = typeof config.folderId === 'number' ? config.folderId : undefined;
  const elsewhere = (folder: unknown) =>
    folderId !== undefined && typeof folder === 'number' && folder !== folderId;
  if (elsewhere(event.FolderId ?? event.OrganizationUnitId)) return [delivery];

  const changedAt = new Date(at);
  const requestKeyField =
    typeof config.requestKeyField === 'string' ? config.requestKeyField : DEFAULT_REQUEST_KEY_FIELD;
  const context = { requestKeyField, fetchedAt: changedAt };
  const kind = type.toLowerCase();
  let stream: UiPathStream;
  let rows: { raw: Json; where: string }[];
  let map: (raw: Json, where: string) => SyncedRecord;
  if (kind.startsWith('job.')) {
    stream = 'jobs';
    rows = objects(what, { Job: event.Job, Jobs: event.Jobs });
    map = (raw, where) => mapJob(raw, context, where);
  } else if (kind.startsWith('queueitem.')) {
    stream = 'queueItems';
    rows = objects(what, { QueueItem: event.QueueItem, QueueItems: event.QueueItems });
    const queueNames = new Map<number, string>();
    for (const { raw } of objects(what, { Queue: event.Queue, Queues: event.Queues }))
      if (typeof raw.Id === 'number' && typeof raw.Name === 'string') queueNames.set(raw.Id, raw.Name);
    map = (raw, where) => mapQueueItem(raw, { ...context, queueNames }, where);
  } else {
    return [delivery];
  }
  for (const { raw, where } of rows) {
    if (elsewhere(raw.OrganizationUnitId)) continue;
    if (!isId(raw.Id)) throw permanent(`${what}: ${where} has no Id`);
    const record = map(raw, `${where} of ${what}`);
    if (raw.LastModificationTime == null) record.updatedAt = changedAt;
    delivery.records.push({ stream, record });
  }
  return [delivery];
}

/** The objects under these keys, each a single object or a list of them, named by where they sat. */
function objects(what: string, fields: Record<string, unknown>): { raw: Json; where: string }[] {
  const out: { raw: Json; where: string }[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const list = Array.isArray(value) ? value : [value];
    for (const [index, raw] of list.entries()) {
      const where = Array.isArray(value) ? `${key}[${index}]` : key;
      if (!isObject(raw)) throw permanent(`${what}: ${where} is not an object`);
      out.push({ raw, where });
    }
  }
  return out;
}

/** An id Orchestrator sends: a number, or a non-empty string (event ids). */
const isId = (value: unknown): value is number | string =>
  (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value !== '');

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
