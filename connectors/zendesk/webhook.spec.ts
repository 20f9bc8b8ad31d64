import { createHmac } from 'node:crypto';
import { FakeZendeskServer } from '../../test/fakes/zendesk-server';
import { WebhookSink, receiveLikeTheHub } from '../../test/fakes/vendor-webhook';
import { refusal, thrownBy } from '../../test/fakes/connector-spec';
import { validateFields } from '../_shared';
import type { ConfigValues, TicketRecord, WebhookRequest } from '../_shared';
import { zendesk } from './index';
import { zendeskWebhook } from './webhook';

const SECRET = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';
const ROUTING_FIELD = 360001;
const REQUEST_KEY_FIELD = 360002;
const CONFIG: ConfigValues = {
  baseUrl: 'https://acme.zendesk.com',
  email: 'admin@example.com',
  routingFieldId: ROUTING_FIELD,
  requestKeyFieldId: REQUEST_KEY_FIELD,
};
const NOW = new Date('2025-01-08T16:45:21Z');

/** A ticket event in the documented event-subscription shape (ticket-events reference), values our own. */
const STATUS_CHANGED = {
  type: 'zen:event-type:ticket.status_changed',
  account_id: 22129848,
  id: '5b0a2f1e-7c3d-4e8f-9a1b-2c3d4e5f6a7b',
  time: '2025-01-08T16:45:20.987654321Z',
  zendesk_event_version: '2022-11-06',
  subject: 'zen:ticket:5158',
  detail: {
    actor_id: '900',
    assignee_id: '2001',
    brand_id: '1',
    created_at: '2025-01-08T10:12:07Z',
    custom_status: '1',
    description: 'The app logs me out',
    external_id: null,
    form_id: '1',
    group_id: '3001',
    id: '5158',
    is_public: true,
    organization_id: null,
    priority: 'HIGH',
    requester_id: '1042',
    status: 'SOLVED',
    subject: 'Cannot login to mobile app',
    submitter_id: '1042',
    tags: ['mobile', 'login'],
    type: 'INCIDENT',
    updated_at: '2025-01-08T16:45:20Z',
    via: { channel: 'web' },
  },
  event: { current: 'SOLVED', previous: 'OPEN' },
};

/** Signs as Zendesk documents it: base64(HMAC-SHA256(secret, timestamp + body)). */
function signed(
  body: string,
  options: { secret?: string; timestamp?: string; headers?: Record<string, string | undefined> } = {},
): WebhookRequest {
  const timestamp = options.timestamp ?? '2025-01-08T16:45:21Z';
  const signature = createHmac('sha256', options.secret ?? SECRET)
    .update(timestamp + body)
    .digest('base64');
  return {
    method: 'POST',
    url: 'https://hub.example.com/webhooks/zendesk/c1',
    headers: {
      'content-type': 'application/json',
      'x-zendesk-webhook-signature': signature,
      'x-zendesk-webhook-signature-timestamp': timestamp,
      ...options.headers,
    },
    body: Buffer.from(body, 'utf8'),
  };
}

describe('Zendesk webhook verify', () => {
  const body = JSON.stringify(STATUS_CHANGED);

  it('accepts a signature computed by the documented recipe, within five minutes either way', () => {
    expect(zendeskWebhook.verify(signed(body), SECRET, NOW)).toEqual({ ok: true });
    const edge = (ms: number) => new Date(Date.parse('2025-01-08T16:45:21Z') + ms);
    expect(zendeskWebhook.verify(signed(body), SECRET, edge(5 * 60_000)).ok).toBe(true);
    expect(zendeskWebhook.verify(signed(body), SECRET, edge(-5 * 60_000)).ok).toBe(true);
    // An empty body (a GET webhook) is signed as the timestamp alone.
    expect(zendeskWebhook.verify(signed(''), SECRET, NOW).ok).toBe(true);
  });

  // The vector an earlier revision of Zendesk's page published was computed as body + timestamp (that
  // revision's formula); the page now says timestamp + body, as does its Node sample and what receivers
  // in use check. The vector is kept to pin the order: it must not verify.
  it('signs timestamp + body, not the order of the old published vector', () => {
    const vector = {
      secret: 'HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=',
      body: '{"say": "hello"}',
      timestamp: '2021-07-25T10:00:00Z',
      signature: 'tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=',
    };
    const hmac = (message: string) => createHmac('sha256', vector.secret).update(message).digest('base64');
    expect(hmac(vector.body + vector.timestamp)).toBe(vector.signature);
    const request = signed(vector.body, { secret: vector.secret, timestamp: vector.timestamp });
    expect(request.headers['x-zendesk-webhook-signature']).toBe(hmac(vector.timestamp + vector.body));
    const at = new Date('2021-07-25T10:01:00Z');
    expect(zendeskWebhook.verify(request, vector.secret, at).ok).toBe(true);
    const old = {
      ...request,
      headers: { ...request.headers, 'x-zendesk-webhook-signature': vector.signature },
    };
    expect(refusal(zendeskWebhook.verify(old, vector.secret, at))).toEqual({ status: 401 });
  });

  it('refuses a tampered body, a wrong secret, a stale or future time and missing headers with 401', () => {
    const good = signed(body);
    const cases: [string, WebhookRequest, string][] = [
      ['tampered body', { ...good, body: Buffer.from(body.replace('SOLVED', 'OPEN')) }, SECRET],
      ['wrong secret', signed(body, { secret: 'another-signing-secret-0123456789' }), SECRET],
      ['stale', signed(body, { timestamp: '2025-01-08T16:40:20Z' }), SECRET],
      ['future', signed(body, { timestamp: '2025-01-08T16:50:22Z' }), SECRET],
      ['no signature', signed(body, { headers: { 'x-zendesk-webhook-signature': undefined } }), SECRET],
      ['blank signature', signed(body, { headers: { 'x-zendesk-webhook-signature': ' ' } }), SECRET],
      [
        'no timestamp',
        signed(body, { headers: { 'x-zendesk-webhook-signature-timestamp': undefined } }),
        SECRET,
      ],
      // The timestamp is signed: moving it into the window breaks the signature.
      [
        'timestamp moved',
        {
          ...good,
          headers: { ...good.headers, 'x-zendesk-webhook-signature-timestamp': '2025-01-08T16:45:22Z' },
        },
        SECRET,
      ],
      ['no secret configured', good, ''],
    ];
    for (const [name, request, secret] of cases) {
      const verdict = zendeskWebhook.verify(request, secret, NOW);
      expect({ name, ...refusal(verdict) }).toEqual({ name, status: 401 });
      if (!verdict.ok) {
        expect(verdict.reason).not.toContain(SECRET);
        expect(verdict.reason).not.toContain(String(good.headers['x-zendesk-webhook-signature']));
      }
    }
  });

  it('refuses malformed headers with 400', () => {
    const good = signed(body);
    for (const [name, headers] of [
      ['timestamp not ISO 8601', { 'x-zendesk-webhook-signature-timestamp': '1736354721' }],
      ['timestamp without zone', { 'x-zendesk-webhook-signature-timestamp': '2025-01-08T16:45:21' }],
      ['signature not base64', { 'x-zendesk-webhook-signature': 'not a signature' }],
      ['signature in hex', { 'x-zendesk-webhook-signature': 'ab'.repeat(32) }],
      [
        'signature truncated',
        { 'x-zendesk-webhook-signature': 'tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teM=' },
      ],
    ] as const) {
      const verdict = zendeskWebhook.verify(
        { ...good, headers: { ...good.headers, ...headers } },
        SECRET,
        NOW,
      );
      expect({ name, ...refusal(verdict) }).toEqual({ name, status: 400 });
      if (!verdict.ok) expect(verdict.reason).not.toContain(SECRET);
    }
  });
});

describe('Zendesk webhook parse', () => {
  const parse = (event: unknown, config = CONFIG) =>
    zendeskWebhook.parse(signed(JSON.stringify(event)), config);

  it('maps a ticket event’s detail to the record a sync makes, metrics and custom fields unknown', () => {
    const [delivery] = parse(STATUS_CHANGED);
    expect(delivery).toMatchObject({
      deliveryId: STATUS_CHANGED.id,
      eventType: 'zen:event-type:ticket.status_changed',
      refs: [],
    });
    expect(delivery.records).toHaveLength(1);
    expect(delivery.records[0].stream).toBe('tickets');
    expect(delivery.records[0].record).toEqual({
      kind: 'ticket',
      externalId: '5158',
      updatedAt: new Date('2025-01-08T16:45:20Z'),
      createdAt: new Date('2025-01-08T10:12:07Z'),
      requestKey: null,
      raw: STATUS_CHANGED.detail,
      subject: 'Cannot login to mobile app',
      status: 'solved',
      priority: 'high',
      channel: 'web',
      requesterId: '1042',
      assigneeId: '2001',
      groupId: '3001',
      tags: ['mobile', 'login'],
      routing: null,
      solvedAt: null,
      replies: null,
      reopens: null,
    });
  });

  it('maps a custom field change on the routing or request-key field; other fields change nothing', () => {
    const change = (fieldId: number, value: unknown) => ({
      ...STATUS_CHANGED,
      type: 'zen:event-type:ticket.custom_field_changed',
      event: {
        current: { value },
        previous: { value: null },
        custom_field: { id: String(fieldId), title: 'Field', type: 'text' },
      },
    });
    const record = (event: unknown) => parse(event)[0].records[0].record as TicketRecord;
    expect(record(change(ROUTING_FIELD, 'billing'))).toMatchObject({ routing: 'billing', requestKey: null });
    expect(record(change(REQUEST_KEY_FIELD, 'req-42'))).toMatchObject({
      routing: null,
      requestKey: 'req-42',
    });
    expect(record(change(999, 'x'))).toMatchObject({ routing: null, requestKey: null });
    expect(record(change(ROUTING_FIELD, 'billing')).raw.custom_fields).toEqual([
      { id: ROUTING_FIELD, value: 'billing' },
    ]);
    // Without the field configured, its value is not the routing.
    const unconfigured = parse(change(ROUTING_FIELD, 'billing'), { ...CONFIG, routingFieldId: undefined });
    expect(unconfigured[0].records[0].record).toMatchObject({ routing: null });
  });

  it('takes the ticket id from the subject when detail has none, and refuses a mismatch', () => {
    const { id: _id, ...detail } = STATUS_CHANGED.detail;
    expect(parse({ ...STATUS_CHANGED, detail })[0].records[0].record.externalId).toBe('5158');
    const mismatch = thrownBy(() => parse({ ...STATUS_CHANGED, subject: 'zen:ticket:1' }));
    expect(mismatch.kind).toBe('PERMANENT');
    expect(mismatch.message).toContain('detail.id and subject name different tickets');
  });

  it('acknowledges events it does not model with an empty delivery', () => {
    const userEvent = {
      type: 'zen:event-type:user.active_changed',
      account_id: 12514403,
      id: '2b24ef10-19d4-4740-93cf-8f98ec4776c0',
      time: '2025-01-08T16:45:20Z',
      zendesk_event_version: '2022-06-20',
      subject: 'zen:user:6596848315901',
      detail: { id: '6596848315901', role: 'end-user' },
      event: { current: false, previous: true },
    };
    expect(parse(userEvent)).toEqual([
      { deliveryId: userEvent.id, eventType: userEvent.type, records: [], refs: [] },
    ]);
  });

  it('refuses a malformed body with a PERMANENT error naming what is wrong', () => {
    const raw = (text: string) => zendeskWebhook.parse(signed(text), CONFIG);
    const cases: [() => unknown, string][] = [
      [() => raw('{"type": '), 'the body is not a JSON object'],
      [() => raw('[]'), 'the body is not a JSON object'],
      [() => parse({ ...STATUS_CHANGED, type: undefined }), 'the event has no type'],
      [() => parse({ ...STATUS_CHANGED, id: '' }), 'the event has no id'],
      [() => parse({ ...STATUS_CHANGED, detail: 'ticket' }), 'the event has no ticket detail'],
      [() => parse({ ...STATUS_CHANGED, subject: 'zen:user:1', detail: { status: 'OPEN' } }), 'has no id'],
    ];
    for (const [fn, message] of cases) {
      const error = thrownBy(fn);
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toContain(message);
    }
  });
});

describe('Zendesk webhooks from the fake', () => {
  const closing: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(closing.splice(0).map((c) => c.close()));
  });

  async function setUp() {
    const fake = new FakeZendeskServer({ tickets: 30 });
    const baseUrl = await fake.start();
    const config = validateFields(
      zendesk.spec.config,
      {
        baseUrl,
        email: fake.email,
        routingFieldId: fake.routingFieldId,
        requestKeyFieldId: fake.requestKeyFieldId,
      },
      'config',
    );
    const hub = receiveLikeTheHub(zendeskWebhook, SECRET, config);
    const sink = new WebhookSink(hub.answer);
    const url = `${await sink.start()}/webhooks/zendesk?connector=c1`;
    closing.push(fake, sink);
    const secrets = validateFields(
      zendesk.spec.secrets,
      { apiToken: fake.token, webhookSecret: SECRET },
      'secrets',
    );
    const session = zendesk.open(config, secrets as Record<string, string>, { now: () => new Date() });
    return { fake, hub, sink, url, session };
  }

  it('delivers a change that maps to what the next sync reads, but for metrics and custom fields', async () => {
    const { fake, hub, url, session } = await setUp();
    fake.modifyTicket(7, { status: 'pending', priority: 'urgent', tags: ['vip'] });
    const sent = await fake.sendWebhook(url, SECRET, { type: 'ticket.status_changed', ticketId: 7 });
    expect(sent).toMatchObject({ status: 200 });
    expect(hub.accepted.map((d) => d.deliveryId)).toEqual(sent.deliveryIds);
    const [{ records }] = hub.accepted;
    const pushed = records[0].record as TicketRecord;

    let synced: TicketRecord | undefined;
    for await (const page of session.read('tickets', null))
      synced ??= page.records.find((r) => r.externalId === '7') as TicketRecord | undefined;
    expect(synced).toBeDefined();
    const {
      raw: _raw,
      solvedAt: _s,
      replies: _r,
      reopens: _o,
      routing: _t,
      requestKey: _k,
      ...core
    } = synced as TicketRecord;
    expect(pushed).toMatchObject({ ...core, status: 'pending', priority: 'urgent', tags: ['vip'] });
    expect(pushed).toMatchObject({ solvedAt: null, replies: null, reopens: null, requestKey: null });

    fake.modifyTicket(7, { customFields: { [fake.routingFieldId]: 'tech' } });
    await fake.sendWebhook(url, SECRET, { type: 'ticket.custom_field_changed', ticketId: 7 });
    expect(hub.accepted[1].records[0].record).toMatchObject({ externalId: '7', routing: 'tech' });
  });

  it('has its bad signature, stale timestamp and repeated delivery refused', async () => {
    const { fake, hub, sink, url } = await setUp();
    const event = { type: 'ticket.created', ticketId: 3 };
    expect((await fake.sendWebhook(url, SECRET, { ...event, badSignature: true })).status).toBe(401);
    const stale = await fake.sendWebhook(url, SECRET, { ...event, at: new Date(Date.now() - 10 * 60_000) });
    expect(stale).toMatchObject({ status: 401 });
    expect(JSON.parse(stale.body).error).toContain('more than 5 minutes old');
    expect((await fake.sendWebhook(url, 'not-the-secret', event)).status).toBe(401);
    const twice = await fake.sendWebhook(url, SECRET, { ...event, times: 2 });
    expect(twice.replies.map((r) => r.status)).toEqual([200, 409]);
    expect(hub.accepted).toHaveLength(1);
    expect(sink.received).toHaveLength(5);
    for (const reply of [stale, twice]) expect(reply.body).not.toContain(SECRET);
  });
});
