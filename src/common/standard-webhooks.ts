import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com), symmetric scheme: the sender signs
 * `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 and sends `v1,<base64 signature>` in
 * `webhook-signature`, several space-separated when it signs with more than one secret (rotation).
 * Secrets are `whsec_` followed by the key in base64.
 */

/** How a symmetric Standard Webhooks secret is written. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** The replay window of the spec's reference libraries, in seconds, both ways. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/** The three headers every Standard Webhooks delivery carries (a type, so it passes as a header record). */
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** What `verifyWebhook` found: the delivery's id and time, or why it is refused (400: malformed, 401: not authentic or stale). */
export type WebhookVerification =
  { ok: true; id: string; timestamp: Date } | { ok: false; status: 400 | 401; reason: string };

/** Header values as Node's IncomingHttpHeaders or a plain record hold them. */
export type HeaderValues = Record<string, string | readonly string[] | undefined>;

const VERSION = 'v1';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The key of a `whsec_<base64>` secret (the prefix is optional, as in the reference libraries). Throws a
 * TypeError, never showing the secret, when it is empty or not base64: a misconfiguration, not a bad request.
 */
function keyOf(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX)
    ? secret.slice(WEBHOOK_SECRET_PREFIX.length)
    : secret;
  if (!BASE64.test(encoded) || encoded.length % 4 === 1)
    throw new TypeError('a webhook secret must be whsec_ followed by base64');
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new TypeError('a webhook secret must not be empty');
  return key;
}

/** Unix seconds, as the `webhook-timestamp` header carries them. */
const secondsOf = (timestamp: Date): number => Math.floor(timestamp.getTime() / 1000);

/** The base64 HMAC-SHA256 of `{id}.{seconds}.{body}` under `key`. */
function digest(key: Buffer, id: string, seconds: number, body: Buffer | string): string {
  return createHmac('sha256', key).update(`${id}.${seconds}.`, 'utf8').update(body).digest('base64');
}

/**
 * The `webhook-signature` value for one delivery: `v1,<base64 HMAC-SHA256 of "{id}.{seconds}.{body}">`.
 * `timestamp` is the time of this attempt (a retry signs anew with its own).
 */
export function signWebhook(secret: string, id: string, timestamp: Date, body: string): string {
  return `${VERSION},${digest(keyOf(secret), id, secondsOf(timestamp), body)}`;
}

/**
 * The headers of one delivery attempt. Several secrets (the new one first, during a rotation) give one
 * signature each, space-separated, so a receiver holding either accepts it.
 */
export function webhookHeaders(
  secret: string | readonly string[],
  id: string,
  timestamp: Date,
  body: string,
): WebhookHeaders {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new TypeError('webhookHeaders needs at least one secret');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(secondsOf(timestamp)),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}

/** One header, whatever the case of its name; a repeated header is refused by the caller. */
function header(headers: HeaderValues, name: string): string | readonly string[] | undefined {
  if (name in headers) return headers[name];
  const found = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}

/**
 * Checks a delivery against the secrets the receiver holds (any of them, for rotation): the three
 * headers present (400), the timestamp an integer (400) within `toleranceSeconds` of `now` either way
 * (401), and one `v1` signature in the header matching one secret (401), compared in constant time.
 * `body` must be the bytes as received, before any JSON parsing. Reasons never carry a secret or a
 * signature.
 */
export function verifyWebhook(
  headers: HeaderValues,
  body: Buffer | string,
  secrets: readonly string[],
  now: Date,
  toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
): WebhookVerification {
  const values: Partial<Record<keyof WebhookHeaders, string>> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
    const value = header(headers, name);
    if (Array.isArray(value)) return { ok: false, status: 400, reason: `${name} is repeated` };
    if (typeof value !== 'string' || value.trim() === '')
      return { ok: false, status: 400, reason: `missing ${name} header` };
    values[name] = value.trim();
  }
  const id = values['webhook-id'] as string;
  const stamp = values['webhook-timestamp'] as string;
  if (!/^\d{1,12}$/.test(stamp))
    return { ok: false, status: 400, reason: 'webhook-timestamp is not an integer number of seconds' };
  const seconds = Number(stamp);
  const skew = secondsOf(now) - seconds;
  if (skew > toleranceSeconds) return { ok: false, status: 401, reason: 'webhook-timestamp is too old' };
  if (-skew > toleranceSeconds)
    return { ok: false, status: 401, reason: 'webhook-timestamp is in the future' };

  const offered = (values['webhook-signature'] as string)
    .split(' ')
    .filter((s) => s.startsWith(`${VERSION},`))
    .map((s) => Buffer.from(s.slice(VERSION.length + 1), 'utf8'));
  if (offered.length === 0) return { ok: false, status: 401, reason: 'no v1 signature in webhook-signature' };
  // Each secret's expected signature against each offered one, all compared: the time taken says how
  // many there were, never which (if any) matched.
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(digest(keyOf(secret), id, seconds, body), 'utf8');
    for (const candidate of offered) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  if (!matched) return { ok: false, status: 401, reason: 'no signature matches' };
  return { ok: true, id, timestamp: new Date(seconds * 1000) };
}

/** A fresh secret: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}
