import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookRequest } from '../../connectors/_shared';
import type { WebhookAnswer } from '../common/webhook-answer';
import { readBody, send } from './http-io';

/** Vendor webhooks into a connector: `/webhooks/connectors/<id>`. */
export const CONNECTOR_WEBHOOK_PATH = /^\/webhooks\/connectors\/([^/]+)$/;
/** Signed requests that start an automation: `/webhooks/automations/<id>`. */
export const AUTOMATION_WEBHOOK_PATH = /^\/webhooks\/automations\/([^/]+)$/;

/**
 * A webhook request: no API key (a vendor cannot send one); the handler checks the signature over the
 * body as received. Only POST; a body over `limit` is 413 before it is read to the end. `publicUrl`
 * rebuilds the URL the vendor called (HubSpot signs it).
 */
export async function serveWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  publicUrl: string | undefined,
  handle: (request: WebhookRequest) => Promise<WebhookAnswer>,
): Promise<void> {
  if (req.method !== 'POST') {
    send(res, 405, { error: 'webhooks are POSTed' }, { allow: 'POST' });
    return;
  }
  const body = await readBody(req, res, limit);
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  const base = publicUrl ?? `http://${req.headers.host ?? 'localhost'}`;
  const reply = await handle({ method: 'POST', url: `${base}${req.url ?? '/'}`, headers, body });
  send(
    res,
    reply.status,
    reply.body,
    reply.retryAfterSeconds !== undefined ? { 'retry-after': String(reply.retryAfterSeconds) } : {},
  );
}
