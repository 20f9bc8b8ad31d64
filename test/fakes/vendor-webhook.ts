import http from 'node:http';
import type {
  ConfigValues,
  WebhookDelivery,
  WebhookRequest,
  WebhookSpec,
} from '../../connectors/_shared/contract';
import { closeServer, listenOnLoopback } from './loopback';

/** What a fake's webhook sender can get wrong on purpose. */
export interface WebhookKnobs {
  /** Sends a well-formed signature with one bit flipped, as a forger would. */
  badSignature?: boolean;
  /** The vendor's clock when it signs (default now): ten minutes ago makes a stale delivery. */
  at?: Date;
  /** Sends the identical request this many times, as a replay or a retry after a lost reply. Default 1. */
  times?: number;
}

/** The hub's answer to one request. */
export interface WebhookReply {
  status: number;
  body: string;
}

/** What a sender did: the last answer, every answer in order, and the vendor's ids of what it sent. */
export interface WebhookSent extends WebhookReply {
  replies: WebhookReply[];
  /** The delivery (event) ids of the request, in order: one, or one per event of a HubSpot batch. */
  deliveryIds: string[];
}

/** A base64 signature with its first bit flipped: still well-formed, no longer matching. */
export function spoil(signature: string): string {
  const bytes = Buffer.from(signature, 'base64');
  bytes[0] ^= 1;
  return bytes.toString('base64');
}

/** POSTs the body `times` times with the headers given, as the vendor's webhook client does. */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  deliveryIds: string[],
  times = 1,
): Promise<WebhookSent> {
  const replies: WebhookReply[] = [];
  for (let attempt = 0; attempt < Math.max(1, times); attempt++) {
    const res = await fetch(url, { method: 'POST', headers, body });
    replies.push({ status: res.status, body: await res.text() });
  }
  return { ...replies[replies.length - 1], replies, deliveryIds };
}

/**
 * Stands in for the hub's webhook endpoint in unit specs: an HTTP server on 127.0.0.1 that hands each
 * request, as a WebhookRequest, to `answer` and sends back what it returns.
 */
export class WebhookSink {
  /** Every request, in order. */
  readonly received: WebhookRequest[] = [];
  private readonly server: http.Server;
  private readonly hung = new Set<http.ServerResponse>();
  private base?: string;

  constructor(private readonly answer: (request: WebhookRequest) => WebhookReply) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens; resolves to the base URL (`http://127.0.0.1:<port>`). */
  async start(): Promise<string> {
    this.base = await listenOnLoopback(this.server);
    return this.base;
  }

  async close(): Promise<void> {
    await closeServer(this.server, this.hung);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers))
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const request: WebhookRequest = {
      method: req.method ?? 'POST',
      url: `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`,
      headers,
      body: Buffer.concat(chunks),
    };
    this.received.push(request);
    const reply = this.answer(request);
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(reply.body);
  }
}

/**
 * What the hub does with a vendor's webhook, reduced to the adapter's part: verify (401/400 with the
 * reason), refuse a delivery id seen before (409), parse (400 on a malformed body), else 200. For a
 * WebhookSink in unit specs.
 */
export function receiveLikeTheHub(
  webhook: WebhookSpec,
  secret: string,
  config: ConfigValues,
  now: () => Date = () => new Date(),
): { answer: (request: WebhookRequest) => WebhookReply; accepted: WebhookDelivery[] } {
  const seen = new Set<string>();
  const accepted: WebhookDelivery[] = [];
  const answer = (request: WebhookRequest): WebhookReply => {
    const verdict = webhook.verify(request, secret, now());
    if (!verdict.ok) return { status: verdict.status, body: JSON.stringify({ error: verdict.reason }) };
    let deliveries: WebhookDelivery[];
    try {
      deliveries = webhook.parse(request, config);
    } catch (error) {
      return { status: 400, body: JSON.stringify({ error: (error as Error).message }) };
    }
    const fresh = deliveries.filter((d) => !seen.has(d.deliveryId));
    if (deliveries.length > 0 && fresh.length === 0)
      return { status: 409, body: JSON.stringify({ error: 'delivered before' }) };
    for (const delivery of fresh) seen.add(delivery.deliveryId);
    accepted.push(...fresh);
    return { status: 200, body: JSON.stringify({ accepted: fresh.map((d) => d.deliveryId) }) };
  };
  return { answer, accepted };
}
