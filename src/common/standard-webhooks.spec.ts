import { createHmac } from 'node:crypto';
import {
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  newWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookHeaders,
} from './standard-webhooks';

// The published test vector of the Standard Webhooks reference libraries
// (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts, "sign function works").
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: new Date(1614265330 * 1000),
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const at = (seconds: number) => new Date(seconds * 1000);
const T = 1_700_000_000;

describe('Standard Webhooks', () => {
  describe('the published test vector', () => {
    it('signs to the expected signature', () => {
      expect(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    });

    it('signs the same with the bare base64 key (the whsec_ prefix is optional)', () => {
      const bare = VECTOR.secret.slice('whsec_'.length);
      expect(signWebhook(bare, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    });

    it('verifies, from headers and body as a receiver gets them', () => {
      const headers = {
        'webhook-id': VECTOR.id,
        'webhook-timestamp': '1614265330',
        'webhook-signature': VECTOR.signature,
      };
      expect(verifyWebhook(headers, Buffer.from(VECTOR.body), [VECTOR.secret], VECTOR.timestamp)).toEqual({
        ok: true,
        id: VECTOR.id,
        timestamp: VECTOR.timestamp,
      });
    });

    it('verifies with the reference libraries’ multi-signature header (other versions and stale signatures ignored)', () => {
      const signature = [
        'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
        'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
        VECTOR.signature,
        'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      ].join(' ');
      const headers = {
        'webhook-id': VECTOR.id,
        'webhook-timestamp': '1614265330',
        'webhook-signature': signature,
      };
      expect(verifyWebhook(headers, VECTOR.body, [VECTOR.secret], VECTOR.timestamp).ok).toBe(true);
    });
  });

  it('webhookHeaders gives the three headers, the timestamp in whole seconds', () => {
    const headers = webhookHeaders(VECTOR.secret, VECTOR.id, new Date(1614265330_999), VECTOR.body);
    expect(headers).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': VECTOR.signature,
    });
  });

  describe('rotation', () => {
    const previous = newWebhookSecret();
    const next = newWebhookSecret();

    it('signs with each secret, space-separated, so a receiver holding either accepts', () => {
      const headers = webhookHeaders([next, previous], 'msg_1', at(T), '{}');
      expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
      expect(verifyWebhook(headers, '{}', [previous], at(T)).ok).toBe(true);
      expect(verifyWebhook(headers, '{}', [next], at(T)).ok).toBe(true);
    });

    it('a receiver holding both accepts a delivery signed with either alone', () => {
      for (const secret of [previous, next]) {
        const headers = webhookHeaders(secret, 'msg_2', at(T), '{"a":1}');
        expect(verifyWebhook(headers, '{"a":1}', [next, previous], at(T)).ok).toBe(true);
      }
    });
  });

  it('newWebhookSecret gives whsec_ and 32 random bytes in base64', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('reads header names in any case, as a plain record or Node’s incoming headers', () => {
    const secret = newWebhookSecret();
    const h = webhookHeaders(secret, 'msg_3', at(T), 'x');
    const shouted = {
      'Webhook-Id': h['webhook-id'],
      'WEBHOOK-TIMESTAMP': h['webhook-timestamp'],
      'Webhook-Signature': h['webhook-signature'],
    };
    expect(verifyWebhook(shouted, 'x', [secret], at(T)).ok).toBe(true);
  });

  describe('refusals', () => {
    const secret = newWebhookSecret();
    const body = '{"type":"run.finished","data":{"id":"r1"}}';
    const good = () =>
      ({ ...webhookHeaders(secret, 'msg_ok', at(T), body) }) as Record<string, string | undefined>;
    const refused = (
      headers: Record<string, string | string[] | undefined>,
      options: { body?: string | Buffer; secrets?: string[]; now?: Date; tolerance?: number } = {},
    ) => {
      const result = verifyWebhook(
        headers,
        options.body ?? body,
        options.secrets ?? [secret],
        options.now ?? at(T),
        options.tolerance,
      );
      if (result.ok) throw new Error('expected a refusal');
      expect(result.reason).not.toContain(secret);
      expect(result.reason).not.toContain(secret.slice(6));
      return { status: result.status, reason: result.reason };
    };

    it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('missing %s: 400', (name) => {
      const headers = good();
      delete headers[name];
      expect(refused(headers)).toEqual({ status: 400, reason: `missing ${name} header` });
      expect(refused({ ...good(), [name]: '  ' }).status).toBe(400);
    });

    it('a repeated header: 400', () => {
      expect(refused({ ...good(), 'webhook-id': ['msg_ok', 'msg_other'] })).toEqual({
        status: 400,
        reason: 'webhook-id is repeated',
      });
    });

    it.each(['hello', '1700000000.5', '-1700000000', '1e9', '99999999999999'])(
      'a timestamp that is not integer seconds (%s): 400',
      (stamp) => {
        expect(refused({ ...good(), 'webhook-timestamp': stamp }).status).toBe(400);
      },
    );

    it('a stale timestamp: 401; at the tolerance edge still accepted', () => {
      const tolerance = DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
      expect(refused(good(), { now: at(T + tolerance + 1) })).toEqual({
        status: 401,
        reason: 'webhook-timestamp is too old',
      });
      expect(verifyWebhook(good(), body, [secret], at(T + tolerance)).ok).toBe(true);
    });

    it('a timestamp from the future: 401', () => {
      expect(refused(good(), { now: at(T - DEFAULT_WEBHOOK_TOLERANCE_SECONDS - 1) })).toEqual({
        status: 401,
        reason: 'webhook-timestamp is in the future',
      });
    });

    it('honours a custom tolerance', () => {
      expect(refused(good(), { now: at(T + 31), tolerance: 30 }).status).toBe(401);
      expect(verifyWebhook(good(), body, [secret], at(T + 30), 30).ok).toBe(true);
    });

    it('a timestamp changed after signing (a replay made to look fresh): 401', () => {
      const headers = { ...good(), 'webhook-timestamp': String(T + 60) };
      expect(refused(headers, { now: at(T + 60) })).toEqual({ status: 401, reason: 'no signature matches' });
    });

    it('another message id under the same signature: 401', () => {
      expect(refused({ ...good(), 'webhook-id': 'msg_other' }).status).toBe(401);
    });

    it('a body changed by one byte (or re-serialised JSON): 401', () => {
      expect(refused(good(), { body: body.replace('r1', 'r2') }).status).toBe(401);
      expect(refused(good(), { body: JSON.stringify(JSON.parse(body), null, 1) }).status).toBe(401);
    });

    it('a signature made with another secret: 401', () => {
      expect(refused(good(), { secrets: [newWebhookSecret(), newWebhookSecret()] })).toEqual({
        status: 401,
        reason: 'no signature matches',
      });
    });

    it('signatures of another version only, or none well formed: 401', () => {
      const v1 = good()['webhook-signature'] as string;
      expect(refused({ ...good(), 'webhook-signature': v1.replace('v1,', 'v1a,') })).toEqual({
        status: 401,
        reason: 'no v1 signature in webhook-signature',
      });
      expect(refused({ ...good(), 'webhook-signature': v1.slice(3) }).status).toBe(401);
    });

    it('a partial, padded or garbage signature: 401', () => {
      const v1 = good()['webhook-signature'] as string;
      for (const signature of [v1.slice(0, 8), 'v1,', 'v1,dawfeoifkpqwoekfpqoekf', `${v1}!!`, `${v1}A`]) {
        expect(refused({ ...good(), 'webhook-signature': signature }).status).toBe(401);
      }
    });

    it('a receiver without secrets accepts nothing', () => {
      expect(refused(good(), { secrets: [] }).status).toBe(401);
    });
  });

  it('refuses to use a secret that is not base64, without echoing it', () => {
    for (const secret of ['whsec_', 'whsec_not base64!', '']) {
      let message = '';
      try {
        signWebhook(secret, 'msg', at(T), '{}');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/webhook secret/);
      if (secret.length > 6) expect(message).not.toContain(secret.slice(6));
    }
  });

  it('verifies a body given as bytes that are not valid UTF-8, as received', () => {
    const secret = newWebhookSecret();
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    // A sender that signed these bytes (a string body cannot hold them): the HMAC by hand.
    const headers = webhookHeaders(secret, 'msg_bin', at(T), '');
    const key = Buffer.from(secret.slice(6), 'base64');
    const signature = createHmac('sha256', key).update(`msg_bin.${T}.`).update(bytes).digest('base64');
    const result = verifyWebhook(
      { ...headers, 'webhook-signature': `v1,${signature}` },
      bytes,
      [secret],
      at(T),
    );
    expect(result.ok).toBe(true);
  });
});
