import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookRequest, WebhookVerdict } from './contract';

/** How far a delivery's time may lie from the hub's clock, either way. */
export const WEBHOOK_WINDOW_MS = 5 * 60 * 1000;

/** Base64 of a SHA-256 digest: 32 bytes, 43 characters and one `=`. */
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** ISO 8601 with a zone, to the nanosecond (Zendesk sends seconds, UiPath 100 ns ticks). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A verdict letting the request through. */
export const accepted: WebhookVerdict = { ok: true };

/** A verdict refusing the request; the reason is shown to the vendor, so it never quotes a secret. */
export const refused = (status: 400 | 401, reason: string): WebhookVerdict => ({ ok: false, status, reason });

/** A header's value, trimmed; undefined when absent or blank. Names are looked up lower-case. */
export function headerOf(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The values of the headers a signed request must carry, in the order named, once a secret is configured:
 * else the refusal (401) naming the secret (`what`, in `secrets.<field>`) or the first header missing.
 */
export function signedHeaders(
  request: WebhookRequest,
  secret: { value: string; what: string; field: string },
  ...names: string[]
): string[] | WebhookVerdict {
  if (secret.value === '') return refused(401, `no ${secret.what} is configured (secrets.${secret.field})`);
  const values: string[] = [];
  for (const name of names) {
    const value = headerOf(request, name);
    if (value === undefined) return refused(401, `${name} is missing`);
    values.push(value);
  }
  return values;
}

/** HMAC-SHA256 of the parts, in order, keyed with the secret's UTF-8 bytes. */
export function hmacSha256(secret: string, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'));
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/**
 * Compares a base64 signature header with the digest expected, in constant time. A header that is not
 * the base64 of 32 bytes is malformed (400); a different digest is refused (401). Neither reason quotes a
 * signature.
 */
export function checkSignature(header: string, given: string, expected: Buffer): WebhookVerdict {
  if (!BASE64_SHA256.test(given)) return refused(400, `${header} is not a base64 HMAC-SHA256 signature`);
  const bytes = Buffer.from(given, 'base64');
  if (bytes.length !== expected.length || !timingSafeEqual(bytes, expected))
    return refused(401, `${header} does not match the request (a wrong secret or an altered request)`);
  return accepted;
}

/** An ISO 8601 time with a zone, as epoch ms; undefined for anything else. */
export function isoTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || !ISO_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Refuses a delivery timed outside the window around `now` (a replay, or a clock far off). */
export function checkWindow(
  what: string,
  at: number,
  now: Date,
  windowMs = WEBHOOK_WINDOW_MS,
): WebhookVerdict {
  const skew = at - now.getTime();
  const minutes = windowMs / 60_000;
  if (skew < -windowMs) return refused(401, `${what} is more than ${minutes} minutes old`);
  if (skew > windowMs) return refused(401, `${what} is more than ${minutes} minutes in the future`);
  return accepted;
}

/** The body as JSON; undefined when it is not JSON. */
export function jsonBody(request: WebhookRequest): unknown {
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    return undefined;
  }
}
