import type { WebhookDelivery, WebhookRequest, WebhookSpec, WebhookVerdict } from '../_shared/contract';
import { permanent } from '../_shared/errors';
import { checkSignature, checkWindow, headerOf, hmacSha256, refused } from '../_shared/webhook';
import { isRecord } from './client';

const SIGNATURE = 'X-HubSpot-Signature-v3';
const TIMESTAMP = 'X-HubSpot-Request-Timestamp';
const SECRET_FIELD = 'clientSecret';

/** HubSpot's table of percent-encodings decoded in the URI before it is signed. */
const DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};
const ENCODED = /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi;

/** The events whose object changed in a way a sync would see; the hub reads the object again. */
const REREAD = new Set(['creation', 'propertyChange', 'restore', 'merge']);
/** Generic (`object.*`) events name the type by id: 0-1 contacts, 0-3 deals. */
const OBJECT_TYPE_STREAMS: Record<string, string> = { '0-1': 'contacts', '0-3': 'deals' };
const PREFIX_STREAMS: Record<string, string> = { contact: 'contacts', deal: 'deals' };
/** Id fields HubSpot sends as int64 numbers, read as text before JSON.parse can round them. */
const ID_FIELDS = /("(?:eventId|objectId|primaryObjectId|newObjectId)"\s*:\s*)(\d{16,})/g;

/**
 * HubSpot's webhooks (the Webhooks API's CRM object subscriptions), signed with the app's client secret
 * per signature v3: `X-HubSpot-Signature-v3 = base64(HMAC-SHA256(secret, method + uri + body +
 * timestamp))`, `X-HubSpot-Request-Timestamp` in epoch ms. The older v1 and v2 signatures carry no
 * timestamp, so a replayed request could not be told from a fresh one: they are not accepted.
 */
export const hubspotWebhook: WebhookSpec = {
  secretField: SECRET_FIELD,
  verify,
  parse,
};

function verify(request: WebhookRequest, secret: string, now: Date): WebhookVerdict {
  if (secret === '') return refused(401, `no app client secret is configured (secrets.${SECRET_FIELD})`);
  const signature = headerOf(request, SIGNATURE);
  const timestamp = headerOf(request, TIMESTAMP);
  if (signature === undefined) return refused(401, `${SIGNATURE} is missing`);
  if (timestamp === undefined) return refused(401, `${TIMESTAMP} is missing`);
  if (!/^\d{1,16}$/.test(timestamp)) return refused(400, `${TIMESTAMP} is not a time in epoch milliseconds`);
  const expected = hmacSha256(
    secret,
    request.method.toUpperCase(),
    signedUri(request.url),
    request.body,
    timestamp,
  );
  const signed = checkSignature(SIGNATURE, signature, expected);
  return signed.ok ? checkWindow(TIMESTAMP, Number(timestamp), now) : signed;
}

/**
 * The URI as HubSpot signs it: the full URL it called, with the characters of its table decoded (in
 * either hex case); everything else stays as sent, the query's order included.
 */
export function signedUri(url: string): string {
  return url.replace(ENCODED, (encoded) => DECODED[encoded.toUpperCase()]);
}

/**
 * A batch of events, one delivery each. Contact and deal events name the object and nothing more
 * (`propertyChange` carries one property): creation, property change, restore and merge become refs
 * the hub reads with `session.fetch`; a merge names the record that survives it. Deletions (a record
 * the CRM streams do not model as deleted), association changes and other object types carry nothing.
 */
function parse(request: WebhookRequest): WebhookDelivery[] {
  let events: unknown;
  try {
    events = JSON.parse(request.body.toString('utf8').replace(ID_FIELDS, '$1"$2"'));
  } catch {
    throw permanent('HubSpot webhook: the body is not JSON');
  }
  if (!Array.isArray(events)) throw permanent('HubSpot webhook: the body is not a JSON array of events');
  return events.map((event, index) => delivery(event, index));
}

function delivery(event: unknown, index: number): WebhookDelivery {
  if (!isRecord(event)) throw permanent(`HubSpot webhook: event ${index} is not an object`);
  const eventId = idText(event.eventId);
  if (eventId === undefined) throw permanent(`HubSpot webhook: event ${index} has no eventId`);
  const type = event.subscriptionType;
  if (typeof type !== 'string' || !type.includes('.'))
    throw permanent(`HubSpot webhook: event ${eventId} has no subscriptionType`);
  const out: WebhookDelivery = { deliveryId: eventId, eventType: type, records: [], refs: [] };
  const [prefix, action] = [type.slice(0, type.indexOf('.')), type.slice(type.indexOf('.') + 1)];
  const stream =
    prefix === 'object' ? OBJECT_TYPE_STREAMS[String(event.objectTypeId)] : PREFIX_STREAMS[prefix];
  if (stream === undefined || !REREAD.has(action)) return out;
  const objectId =
    action === 'merge'
      ? (idText(event.newObjectId) ?? idText(event.primaryObjectId) ?? idText(event.objectId))
      : idText(event.objectId);
  if (objectId === undefined) throw permanent(`HubSpot webhook: event ${eventId} (${type}) has no objectId`);
  out.refs.push({ stream, externalId: objectId });
  return out;
}

/** A HubSpot id: a non-negative integer, as a number JSON could hold exactly or as digits. */
function idText(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? String(value) : undefined;
  return typeof value === 'string' && /^\d{1,30}$/.test(value) ? value : undefined;
}
