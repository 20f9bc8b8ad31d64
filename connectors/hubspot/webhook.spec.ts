import { createHmac } from 'node:crypto';
import { FakeHubspotServer } from '../../test/fakes/hubspot-server';
import { WebhookSink, receiveLikeTheHub } from '../../test/fakes/vendor-webhook';
import { refusal, thrownBy } from '../../test/fakes/connector-spec';
import type { ConnectorSession, WebhookRequest } from '../_shared/contract';
import type { SyncedRecord } from '../_shared/records';
import { validateFields } from '../_shared/validate';
import { hubspot } from './index';
import { hubspotWebhook, signedUri } from './webhook';

const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555';
const URL = 'https://hub.example.com/webhooks/hubspot/c1';
const TIMESTAMP = '1736354720000';
const NOW = new Date(1736354721000);

/** A batch in the documented Webhooks API shape, values our own. */
const BATCH = [
  {
    eventId: 1001,
    subscriptionId: 12345,
    portalId: 62515,
    appId: 54321,
    occurredAt: 1736354719000,
    subscriptionType: 'contact.creation',
    attemptNumber: 0,
    objectId: 123,
    changeSource: 'CRM',
    changeFlag: 'NEW',
  },
  {
    eventId: 1002,
    subscriptionId: 12346,
    portalId: 62515,
    appId: 54321,
    occurredAt: 1736354719500,
    subscriptionType: 'deal.propertyChange',
    attemptNumber: 0,
    objectId: 456,
    propertyName: 'dealstage',
    propertyValue: 'closedwon',
    changeSource: 'CRM_UI',
    sourceId: 'userId:45678',
  },
  {
    eventId: 1003,
    subscriptionId: 12347,
    portalId: 62515,
    appId: 54321,
    occurredAt: 1736354719600,
    subscriptionType: 'contact.deletion',
    attemptNumber: 1,
    objectId: 124,
    changeSource: 'CRM',
  },
];

/** Signs per v3 as HubSpot documents it: base64(HMAC-SHA256(secret, method + uri + body + timestamp)). */
function signed(
  body: string,
  options: {
    url?: string;
    signedUrl?: string;
    secret?: string;
    timestamp?: string;
    headers?: Record<string, string | undefined>;
  } = {},
): WebhookRequest {
  const url = options.url ?? URL;
  const timestamp = options.timestamp ?? TIMESTAMP;
  const source = `POST${options.signedUrl ?? url}${body}${timestamp}`;
  const signature = createHmac('sha256', options.secret ?? SECRET)
    .update(source, 'utf8')
    .digest('base64');
  return {
    method: 'POST',
    url,
    headers: {
      'content-type': 'application/json',
      'x-hubspot-signature-v3': signature,
      'x-hubspot-request-timestamp': timestamp,
      ...options.headers,
    },
    body: Buffer.from(body, 'utf8'),
  };
}

describe('HubSpot webhook verify', () => {
  const body = JSON.stringify(BATCH);

  // The v3 example of HubSpot's own client library (hubspot-api-python, tests/spec/utils/test_signature.py).
  it('accepts the v3 example of HubSpot’s client library', () => {
    const request: WebhookRequest = {
      method: 'POST',
      url: 'https://www.example.com/webhook_uri',
      headers: {
        'x-hubspot-signature-v3': 'HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=',
        'x-hubspot-request-timestamp': '15000000',
      },
      body: Buffer.from("{'example_field':'example_value'}"),
    };
    expect(hubspotWebhook.verify(request, SECRET, new Date(15_000_000 + 60_000))).toEqual({ ok: true });
    expect(refusal(hubspotWebhook.verify(request, SECRET, new Date(15_000_000 + 301_000)))).toEqual({
      status: 401,
    });
  });

  it('accepts a signature computed by the documented recipe, within five minutes either way', () => {
    expect(hubspotWebhook.verify(signed(body), SECRET, NOW)).toEqual({ ok: true });
    const at = Number(TIMESTAMP);
    expect(hubspotWebhook.verify(signed(body), SECRET, new Date(at + 300_000)).ok).toBe(true);
    expect(hubspotWebhook.verify(signed(body), SECRET, new Date(at - 300_000)).ok).toBe(true);
  });

  it('decodes the characters of HubSpot’s table in the URI before checking, and only those', () => {
    const url = 'https://hub.example.com/webhooks/hubspot?connector=a%3Ab%2Cc&path=%2Fx%40y&q=%28%29%2a%20z';
    const decoded = 'https://hub.example.com/webhooks/hubspot?connector=a:b,c&path=/x@y&q=()*%20z';
    expect(signedUri(url)).toBe(decoded);
    expect(hubspotWebhook.verify(signed(body, { url, signedUrl: decoded }), SECRET, NOW).ok).toBe(true);
    expect(refusal(hubspotWebhook.verify(signed(body, { url }), SECRET, NOW))).toEqual({ status: 401 });
    const all = '%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B';
    expect(signedUri(all)).toBe(":/?@!$'()*,;");
    expect(signedUri('%20%2B%26%3D%23')).toBe('%20%2B%26%3D%23');
  });

  it('refuses a tampered body, another URL, a wrong secret, a stale or future time, missing headers with 401', () => {
    const good = signed(body);
    const cases: [string, WebhookRequest, string][] = [
      ['tampered body', { ...good, body: Buffer.from(body.replace('456', '457')) }, SECRET],
      ['another URL', { ...good, url: `${URL}?connector=c2` }, SECRET],
      ['another method', { ...good, method: 'PUT' }, SECRET],
      ['wrong secret', signed(body, { secret: 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz' }), SECRET],
      ['stale', signed(body, { timestamp: String(NOW.getTime() - 300_001) }), SECRET],
      ['future', signed(body, { timestamp: String(NOW.getTime() + 300_001) }), SECRET],
      ['no v3 signature', signed(body, { headers: { 'x-hubspot-signature-v3': undefined } }), SECRET],
      ['no timestamp', signed(body, { headers: { 'x-hubspot-request-timestamp': undefined } }), SECRET],
      [
        'timestamp moved',
        { ...good, headers: { ...good.headers, 'x-hubspot-request-timestamp': String(NOW.getTime()) } },
        SECRET,
      ],
      [
        'only the v1 signature',
        signed(body, {
          headers: {
            'x-hubspot-signature-v3': undefined,
            'x-hubspot-signature': 'a'.repeat(64),
            'x-hubspot-signature-version': 'v1',
          },
        }),
        SECRET,
      ],
      ['no secret configured', good, ''],
    ];
    for (const [name, request, secret] of cases) {
      const verdict = hubspotWebhook.verify(request, secret, NOW);
      expect({ name, ...refusal(verdict) }).toEqual({ name, status: 401 });
      if (!verdict.ok) {
        expect(verdict.reason).not.toContain(SECRET);
        expect(verdict.reason).not.toContain(String(good.headers['x-hubspot-signature-v3']));
      }
    }
  });

  it('refuses malformed headers with 400', () => {
    const good = signed(body);
    for (const [name, headers] of [
      ['timestamp in seconds with a fraction', { 'x-hubspot-request-timestamp': '1736354720.5' }],
      ['timestamp as a date', { 'x-hubspot-request-timestamp': '2025-01-08T16:45:20Z' }],
      [
        'signature with a prefix',
        { 'x-hubspot-signature-v3': `sha256=${good.headers['x-hubspot-signature-v3']}` },
      ],
      ['signature in hex', { 'x-hubspot-signature-v3': 'ab'.repeat(32) }],
    ] as const) {
      const verdict = hubspotWebhook.verify(
        { ...good, headers: { ...good.headers, ...headers } },
        SECRET,
        NOW,
      );
      expect({ name, ...refusal(verdict) }).toEqual({ name, status: 400 });
      if (!verdict.ok) expect(verdict.reason).not.toContain(SECRET);
    }
  });
});

describe('HubSpot webhook parse', () => {
  const parse = (events: unknown) => hubspotWebhook.parse(signed(JSON.stringify(events)), {});

  it('gives one delivery per event: contact and deal changes as refs, a deletion as nothing', () => {
    expect(parse(BATCH)).toEqual([
      {
        deliveryId: '1001',
        eventType: 'contact.creation',
        records: [],
        refs: [{ stream: 'contacts', externalId: '123' }],
      },
      {
        deliveryId: '1002',
        eventType: 'deal.propertyChange',
        records: [],
        refs: [{ stream: 'deals', externalId: '456' }],
      },
      { deliveryId: '1003', eventType: 'contact.deletion', records: [], refs: [] },
    ]);
  });

  it('reads merges, restores, generic object events, and ignores other objects and associations', () => {
    const event = (fields: Record<string, unknown>) => ({ ...BATCH[0], ...fields });
    const deliveries = parse([
      event({
        eventId: 1,
        subscriptionType: 'contact.merge',
        objectId: 10,
        primaryObjectId: 10,
        mergedObjectIds: [11],
        newObjectId: 12,
        numberOfPropertiesMoved: 3,
      }),
      event({
        eventId: 2,
        subscriptionType: 'deal.merge',
        objectId: 20,
        primaryObjectId: 21,
        mergedObjectIds: [22],
      }),
      event({ eventId: 3, subscriptionType: 'deal.restore', objectId: 30 }),
      event({ eventId: 4, subscriptionType: 'object.creation', objectTypeId: '0-3', objectId: 40 }),
      event({ eventId: 5, subscriptionType: 'object.propertyChange', objectTypeId: '0-1', objectId: 50 }),
      event({ eventId: 6, subscriptionType: 'object.creation', objectTypeId: '0-2', objectId: 60 }),
      event({ eventId: 7, subscriptionType: 'company.creation', objectId: 70 }),
      event({ eventId: 8, subscriptionType: 'contact.associationChange', fromObjectId: 80, toObjectId: 81 }),
      event({ eventId: 9, subscriptionType: 'contact.privacyDeletion', objectId: 90 }),
    ]);
    expect(deliveries.map((d) => [d.deliveryId, d.refs])).toEqual([
      ['1', [{ stream: 'contacts', externalId: '12' }]],
      ['2', [{ stream: 'deals', externalId: '21' }]],
      ['3', [{ stream: 'deals', externalId: '30' }]],
      ['4', [{ stream: 'deals', externalId: '40' }]],
      ['5', [{ stream: 'contacts', externalId: '50' }]],
      ['6', []],
      ['7', []],
      ['8', []],
      ['9', []],
    ]);
  });

  it('keeps int64 ids exact, beyond what a JavaScript number holds', () => {
    const body =
      '[{"eventId": 9007199254740993, "subscriptionType": "contact.creation", "objectId":12345678901234567890}]';
    expect(hubspotWebhook.parse(signed(body), {})).toEqual([
      {
        deliveryId: '9007199254740993',
        eventType: 'contact.creation',
        records: [],
        refs: [{ stream: 'contacts', externalId: '12345678901234567890' }],
      },
    ]);
    // A string that merely looks like such a field is left alone.
    const quoted = JSON.stringify([{ ...BATCH[1], propertyValue: '"objectId": 12345678901234567890' }]);
    expect(hubspotWebhook.parse(signed(quoted), {})[0].refs).toEqual([
      { stream: 'deals', externalId: '456' },
    ]);
  });

  it('refuses a malformed body with a PERMANENT error naming what is wrong', () => {
    const raw = (text: string) => hubspotWebhook.parse(signed(text), {});
    const cases: [() => unknown, string][] = [
      [() => raw('[{"eventId": 1'), 'the body is not JSON'],
      [() => raw('{"eventId": 1}'), 'the body is not a JSON array of events'],
      [() => parse([BATCH[0], 'event']), 'event 1 is not an object'],
      [() => parse([{ ...BATCH[0], eventId: undefined }]), 'event 0 has no eventId'],
      [() => parse([{ ...BATCH[0], eventId: -1 }]), 'event 0 has no eventId'],
      [() => parse([{ ...BATCH[0], subscriptionType: 'creation' }]), 'event 1001 has no subscriptionType'],
      [() => parse([{ ...BATCH[1], objectId: 'abc' }]), 'event 1002 (deal.propertyChange) has no objectId'],
    ];
    for (const [fn, message] of cases) {
      const error = thrownBy(fn);
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toContain(message);
    }
  });
});

describe('HubSpot session.fetch and webhooks from the fake', () => {
  const closing: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(closing.splice(0).map((c) => c.close()));
  });

  async function setUp(counts: { contacts?: number; deals?: number } = { contacts: 30, deals: 30 }) {
    const fake = new FakeHubspotServer({ token: TOKEN, ...counts });
    await fake.start();
    closing.push(fake);
    const config = validateFields(hubspot.spec.config, { baseUrl: fake.url }, 'config');
    const secrets = validateFields(
      hubspot.spec.secrets,
      { accessToken: TOKEN, clientSecret: SECRET },
      'secrets',
    ) as Record<string, string>;
    const session = hubspot.open(config, secrets, {
      now: () => new Date(),
      http: { backoffMs: 1, maxRetries: 2 },
    });
    return { fake, session, config };
  }

  async function readAll(session: ConnectorSession, stream: string): Promise<Map<string, SyncedRecord>> {
    const records = new Map<string, SyncedRecord>();
    for await (const page of session.read(stream, null))
      for (const r of page.records) records.set(r.externalId, r);
    return records;
  }

  it('fetch reads records by id as the sync maps them, leaving out ids HubSpot lacks', async () => {
    const { fake, session } = await setUp();
    const contacts = await readAll(session, 'contacts');
    const deals = await readAll(session, 'deals');
    const contactIds = [...contacts.keys()].slice(0, 5);
    const dealIds = [...deals.keys()].slice(3, 6);

    const fetched = await session.fetch?.('contacts', [...contactIds, contactIds[0], '999999']);
    expect(fetched).toEqual(contactIds.map((id) => contacts.get(id)));
    expect(await session.fetch?.('deals', dealIds)).toEqual(dealIds.map((id) => deals.get(id)));

    const read = fake.requests.filter((r) => r.path.endsWith('/batch/read'));
    expect(read.map((r) => r.outcome)).toEqual([207, 200]);
    expect(await session.fetch?.('contacts', [])).toEqual([]);
  });

  it('fetch splits more than 100 ids into batches of HubSpot’s size', async () => {
    const { fake, session } = await setUp({ contacts: 250 });
    const ids = [...fake.objects.contacts.keys()];
    const fetched = (await session.fetch?.('contacts', ids)) ?? [];
    expect(fetched.map((r) => r.externalId)).toEqual(ids);
    const reads = fake.requests.filter((r) => r.path.endsWith('/batch/read'));
    expect(reads.map((r) => r.ids?.length)).toEqual([100, 100, 50]);
  });

  it('fetch refuses an unknown stream and a malformed id without calling HubSpot', async () => {
    const { fake, session } = await setUp({ contacts: 1 });
    await expect(session.fetch?.('companies', ['1'])).rejects.toMatchObject({ kind: 'PERMANENT' });
    await expect(session.fetch?.('contacts', ['12; DROP'])).rejects.toMatchObject({
      kind: 'PERMANENT',
      message: expect.stringContaining('is not a HubSpot record id'),
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('sends a signed batch whose refs fetch the changed records; bad signature, stale and replay are refused', async () => {
    const { fake, session, config } = await setUp();
    const hub = receiveLikeTheHub(hubspotWebhook, SECRET, config);
    const sink = new WebhookSink(hub.answer);
    closing.push(sink);
    const url = `${await sink.start()}/webhooks/hubspot?connector=c1%3Aprod`;
    const [a, b] = [...fake.objects.contacts.keys()];
    fake.update('contacts', a, { lifecyclestage: 'customer' });
    fake.update('contacts', b, { firstname: 'Renamed' });

    const sent = await fake.sendWebhook(url, SECRET, {
      type: 'contact.propertyChange',
      ids: [a, b],
      propertyName: 'lifecyclestage',
    });
    expect(sent.status).toBe(200);
    expect(hub.accepted.map((d) => d.deliveryId)).toEqual(sent.deliveryIds);
    const refs = hub.accepted.flatMap((d) => d.refs);
    expect(refs).toEqual([
      { stream: 'contacts', externalId: a },
      { stream: 'contacts', externalId: b },
    ]);
    const records = await session.fetch?.(
      'contacts',
      refs.map((r) => r.externalId),
    );
    expect(records).toMatchObject([
      { externalId: a, lifecycleStage: 'customer' },
      { externalId: b, firstName: 'Renamed' },
    ]);

    const event = { type: 'deal.creation', ids: [[...fake.objects.deals.keys()][0]] };
    expect((await fake.sendWebhook(url, SECRET, { ...event, badSignature: true })).status).toBe(401);
    const stale = await fake.sendWebhook(url, SECRET, { ...event, at: new Date(Date.now() - 6 * 60_000) });
    expect(stale.status).toBe(401);
    expect(JSON.parse(stale.body).error).toContain('more than 5 minutes old');
    const twice = await fake.sendWebhook(url, SECRET, { ...event, times: 2 });
    expect(twice.replies.map((r) => r.status)).toEqual([200, 409]);
    expect(hub.accepted).toHaveLength(3);
    for (const reply of [stale, twice]) expect(reply.body).not.toContain(SECRET);
  });
});
