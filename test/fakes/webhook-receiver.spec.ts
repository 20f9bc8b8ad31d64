import { newWebhookSecret, webhookHeaders } from '../../src/common/standard-webhooks';
import { FakeWebhookReceiver } from './webhook-receiver';

const T = new Date('2024-06-01T12:00:00Z');

describe('FakeWebhookReceiver', () => {
  const secret = newWebhookSecret();
  let receiver: FakeWebhookReceiver;
  let url: string;
  beforeEach(async () => {
    receiver = new FakeWebhookReceiver({ secrets: [secret], now: () => T });
    url = await receiver.start();
  });
  afterEach(async () => {
    await receiver.close();
  });

  /** One delivery attempt as a sender makes it; resolves to the status, or 0 when no answer came. */
  async function deliver(
    id: string,
    body: string,
    options: {
      secret?: string | string[];
      at?: Date;
      headers?: Record<string, string>;
      timeoutMs?: number;
    } = {},
  ): Promise<number> {
    const headers = {
      'content-type': 'application/json',
      ...webhookHeaders(options.secret ?? secret, id, options.at ?? T, body),
      ...options.headers,
    };
    try {
      const res = await fetch(`${url}/hooks/nerve`, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  it('accepts an authentic delivery and records it, body and all', async () => {
    expect(await deliver('msg_1', '{"type":"run.finished","data":{"id":"r1"}}')).toBe(204);
    expect(receiver.deliveries).toEqual([
      expect.objectContaining({
        id: 'msg_1',
        attempt: 1,
        verified: true,
        reason: null,
        answered: 204,
        method: 'POST',
        path: '/hooks/nerve',
        json: { type: 'run.finished', data: { id: 'r1' } },
      }),
    ]);
    expect(receiver.accepted().map((d) => d.id)).toEqual(['msg_1']);
  });

  it('answers failures on request, counts attempts per webhook-id, and accepts the retry', async () => {
    receiver.failNext(503, 2, { 'retry-after': '1' });
    expect(await deliver('msg_2', '{}')).toBe(503);
    expect(await deliver('msg_2', '{}')).toBe(503);
    expect(await deliver('msg_2', '{}')).toBe(204);
    expect(receiver.attemptsFor('msg_2')).toBe(3);
    expect(receiver.deliveries.map((d) => [d.attempt, d.answered])).toEqual([
      [1, 503],
      [2, 503],
      [3, 204],
    ]);
    expect(receiver.accepted()).toHaveLength(1);
  });

  it('hangs or drops the connection on request (the sender sees no answer)', async () => {
    receiver.hangNext(1).resetNext(1);
    expect(await deliver('msg_3', '{}', { timeoutMs: 200 })).toBe(0);
    expect(await deliver('msg_3', '{}')).toBe(0);
    expect(await deliver('msg_3', '{}')).toBe(204);
    expect(receiver.deliveries.map((d) => d.answered)).toEqual([0, 0, 204]);
  });

  it('refuses a bad signature, a stale timestamp and missing headers, and records why', async () => {
    expect(await deliver('msg_4', '{}', { secret: newWebhookSecret() })).toBe(401);
    expect(await deliver('msg_5', '{}', { at: new Date(T.getTime() - 10 * 60_000) })).toBe(401);
    expect(await deliver('msg_6', '{}', { headers: { 'webhook-signature': '' } })).toBe(400);
    expect(receiver.deliveries.map((d) => [d.verified, d.answered, d.reason])).toEqual([
      [false, 401, 'no signature matches'],
      [false, 401, 'webhook-timestamp is too old'],
      [false, 400, 'missing webhook-signature header'],
    ]);
    expect(receiver.accepted()).toEqual([]);
  });

  it('accepts either secret during a rotation, and only the new one after it', async () => {
    const next = newWebhookSecret();
    receiver.setSecrets([secret, next]);
    expect(await deliver('msg_7', '{}', { secret: next })).toBe(204);
    expect(await deliver('msg_8', '{}', { secret: [next, secret] })).toBe(204);
    receiver.setSecrets([next]);
    expect(await deliver('msg_9', '{}', { secret })).toBe(401);
  });

  it('waitFor resolves when deliveries arrive and rejects after its timeout', async () => {
    const waiting = receiver.waitFor((ds) => ds.length === 2, 2000);
    void deliver('msg_10', '{}');
    void deliver('msg_11', '{}');
    expect((await waiting).map((d) => d.id).sort()).toEqual(['msg_10', 'msg_11']);
    await expect(receiver.waitFor((ds) => ds.length > 5, 100)).rejects.toThrow(/not met within 100 ms/);
  });
});
