import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { verifyWebhook } from '../../src/common/standard-webhooks';
import { recordSecret } from '../support/run-record';
import { readBody } from './fake-http';
import { FaultInjector } from './faults';
import { closeServer, listenOnLoopback } from './loopback';

/** One delivery attempt as the receiver got it. */
export interface WebhookDelivery {
  /** `webhook-id` as sent (undefined when missing). */
  id: string | undefined;
  /** 1 for the first attempt of this webhook-id, 2 for its first retry, … */
  attempt: number;
  /** The signature checked out against one of the receiver's secrets, within the tolerance. */
  verified: boolean;
  /** Why it did not verify. */
  reason: string | null;
  /** What the receiver answered: 0 when it hung or dropped the connection. */
  answered: number;
  method: string;
  path: string;
  /** The body as received. */
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
  /** Every header received (lower-case names). */
  headers: Record<string, string>;
  /** When it arrived, by the receiver's clock. */
  receivedAt: Date;
}

export interface FakeWebhookReceiverOptions {
  /** The secrets it accepts (`whsec_…`): several during a rotation. */
  secrets: string[];
  /** Default 300 seconds. */
  toleranceSeconds?: number;
  /** Its clock, for the timestamp check. Default: the real one. */
  now?: () => Date;
}

/**
 * A webhook endpoint on 127.0.0.1 that checks Standard Webhooks signatures as a careful receiver does:
 * it answers 2xx to an authentic, fresh delivery, 400 to one missing headers and 401 to a bad signature
 * or a stale timestamp. Every attempt is recorded with its attempt number per webhook-id. Knobs: answer
 * the next deliveries with a status (`failNext`), hang (`hangNext`, the sender must time out), drop the
 * connection, or any other fault through `faults` (applied after verification and recording).
 */
export class FakeWebhookReceiver {
  /** Faults for the next deliveries (status, hang, reset, malformed), in order, or at random. */
  readonly faults = new FaultInjector();
  /** Every attempt, in arrival order. */
  deliveries: WebhookDelivery[] = [];
  /** What an accepted delivery is answered with. Default 204. */
  successStatus = 204;

  private secrets: string[];
  private readonly toleranceSeconds: number | undefined;
  private readonly now: () => Date;
  private readonly attempts = new Map<string, number>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly server: http.Server;
  private readonly waiters = new Set<() => void>();

  constructor(options: FakeWebhookReceiverOptions) {
    this.secrets = [...options.secrets];
    for (const secret of this.secrets) recordSecret('webhook signing secret', secret);
    this.toleranceSeconds = options.toleranceSeconds;
    this.now = options.now ?? (() => new Date());
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on an ephemeral port of 127.0.0.1; resolves to the base URL (post to any path). */
  async start(): Promise<string> {
    return listenOnLoopback(this.server);
  }

  /** Stops listening and destroys every socket, hanging requests included. */
  async close(): Promise<void> {
    for (const wake of this.waiters) wake();
    await closeServer(this.server, this.hung);
  }

  /** Replaces the secrets it accepts (a rotation finished, or a secret revoked). */
  setSecrets(secrets: string[]): void {
    this.secrets = [...secrets];
    for (const secret of this.secrets) recordSecret('webhook signing secret', secret);
  }

  /** The next `count` authentic deliveries are answered with `status` (and `headers`, e.g. retry-after). */
  failNext(status: number, count = 1, headers?: Record<string, string>): this {
    for (let i = 0; i < count; i++)
      this.faults.next({ kind: 'status', status, headers, body: { error: 'failing on purpose' } });
    return this;
  }

  /** The next `count` authentic deliveries are never answered. */
  hangNext(count = 1): this {
    for (let i = 0; i < count; i++) this.faults.next({ kind: 'hang' });
    return this;
  }

  /** The next `count` authentic deliveries have their connection dropped without an answer. */
  resetNext(count = 1): this {
    for (let i = 0; i < count; i++) this.faults.next({ kind: 'reset' });
    return this;
  }

  /** Attempts so far for one webhook-id. */
  attemptsFor(id: string): number {
    return this.attempts.get(id) ?? 0;
  }

  /** The deliveries it accepted (verified and answered 2xx), one per webhook-id: what a consumer processes. */
  accepted(): WebhookDelivery[] {
    const seen = new Set<string>();
    return this.deliveries.filter((d) => {
      if (!d.verified || d.answered < 200 || d.answered >= 300 || d.id === undefined || seen.has(d.id))
        return false;
      seen.add(d.id);
      return true;
    });
  }

  /** Resolves once `predicate` holds over the deliveries; rejects after `timeoutMs`. */
  async waitFor(
    predicate: (deliveries: WebhookDelivery[]) => boolean,
    timeoutMs = 5000,
  ): Promise<WebhookDelivery[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.deliveries)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `webhook receiver: condition not met within ${timeoutMs} ms (${this.deliveries.length} deliveries)`,
        );
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          resolve();
        };
        this.waiters.add(wake);
        void delay(Math.min(left, 50)).then(wake);
      });
    }
    return this.deliveries;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req).catch(() => Buffer.alloc(0));
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const check = verifyWebhook(req.headers, body, this.secrets, this.now(), this.toleranceSeconds);
    const id = typeof req.headers['webhook-id'] === 'string' ? req.headers['webhook-id'] : undefined;
    const attempt = id === undefined ? 1 : (this.attempts.get(id) ?? 0) + 1;
    if (id !== undefined) this.attempts.set(id, attempt);
    let json: unknown = undefined;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      // Not JSON: kept as text only.
    }
    const delivery: WebhookDelivery = {
      id,
      attempt,
      verified: check.ok,
      reason: check.ok ? null : check.reason,
      answered: 0,
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      body: body.toString('utf8'),
      json,
      headers,
      receivedAt: this.now(),
    };
    this.deliveries.push(delivery);
    try {
      if (!check.ok) {
        delivery.answered = check.status;
        res.writeHead(check.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: check.reason }));
        return;
      }
      if (this.faults.apply(res, this.hung)) {
        // A status fault answered; a hang or a reset did not.
        delivery.answered = res.headersSent ? res.statusCode : 0;
        return;
      }
      delivery.answered = this.successStatus;
      res.writeHead(this.successStatus);
      res.end();
    } finally {
      for (const wake of [...this.waiters]) wake();
    }
  }
}
