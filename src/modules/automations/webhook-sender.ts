import { hkdfSync } from 'node:crypto';
import { HttpClient, type HttpOptions } from '../../../connectors/_shared';
import { WEBHOOK_SECRET_PREFIX, webhookHeaders } from '../../common/standard-webhooks';

/** What a delivered webhook step gives the steps after it. */
export interface WebhookDelivery {
  webhookId: string;
  status: number;
}

export interface WebhookSenderDeps {
  /** NERVE_SECRET_KEY (base64): each automation's signing secret is derived from it. */
  secretKey: string | undefined;
  now: () => Date;
  /** HTTP tuning (tests shorten the timeout). */
  http?: Partial<Pick<HttpOptions, 'timeoutMs' | 'fetch'>>;
}

/**
 * Outbound webhooks of automation steps, with Standard Webhooks headers (webhook-id, -timestamp,
 * -signature): a receiver verifies them with the automation's signing secret (`automationSigningSecret`)
 * and drops a repeated webhook-id. One attempt per call: the run retries, with backoff, and ends in
 * FAILED (its dead letter, redeliverable) when attempts run out.
 */
export class WebhookSender {
  private readonly key: Buffer | null;

  constructor(private readonly deps: WebhookSenderDeps) {
    this.key = deps.secretKey ? Buffer.from(deps.secretKey, 'base64') : null;
  }

  /** Whether webhooks can be signed here (a secret key is configured). */
  get available(): boolean {
    return this.key !== null;
  }

  /** An automation's signing secret, `whsec_…`, derived from the hub's key: the same on every replica. */
  secretFor(automationId: string): string {
    if (!this.key) throw new Error('NERVE_SECRET_KEY is not set: webhooks cannot be signed');
    const derived = Buffer.from(
      hkdfSync('sha256', this.key, automationId, 'nerve automation webhooks v1', 32),
    );
    return WEBHOOK_SECRET_PREFIX + derived.toString('base64');
  }

  /** Posts `payload` as JSON to `url` once, signed; a failure is a TEMPORARY or PERMANENT ConnectorError. */
  async send(
    automationId: string,
    url: string,
    webhookId: string,
    payload: unknown,
  ): Promise<WebhookDelivery> {
    const body = JSON.stringify(payload ?? null);
    const target = new URL(url);
    const client = new HttpClient({
      vendor: `webhook ${target.host}`,
      baseUrl: target.origin,
      maxRetries: 0,
      timeoutMs: this.deps.http?.timeoutMs ?? 10_000,
      fetch: this.deps.http?.fetch,
    });
    const headers = { ...webhookHeaders(this.secretFor(automationId), webhookId, this.deps.now(), body) };
    const res = await client.request({
      method: 'POST',
      path: `${target.pathname}${target.search}`,
      raw: { body, contentType: 'application/json' },
      headers,
      reply: 'text',
      operation: 'delivery',
    });
    return { webhookId, status: res.status };
  }
}
