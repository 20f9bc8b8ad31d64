import { mulberry32 } from '../../src/common/random';
import type { FakeCrmObject, FakeObjectType } from '../../test/fakes/hubspot-server';
import { FakeHubspotServer } from '../../test/fakes/hubspot-server';
import type { Fault } from '../../test/fakes/faults';
import type { ConnectorEnv, ConnectorSession, StreamState } from '../_shared/contract';
import { ConnectorError } from '../_shared/errors';
import type { CrmContactRecord, CrmDealRecord, SyncedRecord } from '../_shared/records';
import { validateFields } from '../_shared/validate';
import { hubspot } from './index';

const TOKEN = 'pat-na1-11111111-2222-3333-4444-555555555555';
const STREAMS: FakeObjectType[] = ['contacts', 'deals'];

const RATE_LIMIT_BODY = {
  status: 'error',
  message: 'You have reached your ten_secondly_rolling limit.',
  errorType: 'RATE_LIMIT',
  correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad24',
  policyName: 'TEN_SECONDLY_ROLLING',
};
const DAILY_BODY = {
  status: 'error',
  message: 'You have reached your daily limit.',
  errorType: 'RATE_LIMIT',
  correlationId: 'c033cdaa-2c40-4a64-ae48-b4cec88dad25',
  policyName: 'DAILY',
};

/** What the hub keeps: records by externalId and the state of each stream. */
class Hub {
  readonly records: Record<FakeObjectType, Map<string, SyncedRecord>> = {
    contacts: new Map(),
    deals: new Map(),
  };
  readonly states: Record<FakeObjectType, StreamState | null> = { contacts: null, deals: null };
  /** Every state the hub stored, in order. */
  readonly stored: StreamState[] = [];
}

interface SyncRun {
  finished: boolean;
  pages: number;
  /** Ids in the order read, repeats included. */
  reads: string[];
}

/**
 * Mimics the hub: writes each page's records and then its state; `crashAfter` pages stops reading (the
 * worker died), leaving what was stored so far.
 */
async function syncStream(
  session: ConnectorSession,
  hub: Hub,
  stream: FakeObjectType,
  options: { crashAfter?: number; afterPage?: (page: number) => void } = {},
): Promise<SyncRun> {
  const run: SyncRun = { finished: false, pages: 0, reads: [] };
  for await (const page of session.read(stream, hub.states[stream])) {
    const ids = page.records.map((r) => r.externalId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const record of page.records) hub.records[stream].set(record.externalId, record);
    hub.states[stream] = page.state;
    hub.stored.push(page.state);
    run.reads.push(...ids);
    run.pages++;
    options.afterPage?.(run.pages);
    if (options.crashAfter !== undefined && run.pages >= options.crashAfter) return run;
  }
  run.finished = true;
  return run;
}

interface Harness {
  session: ConnectorSession;
  slept: number[];
}

function open(
  fake: FakeHubspotServer,
  config: Record<string, unknown> = {},
  token = TOKEN,
  http: ConnectorEnv['http'] = {},
): Harness {
  const slept: number[] = [];
  const values = validateFields(hubspot.spec.config, { baseUrl: fake.url, ...config }, 'config');
  const secrets = validateFields(hubspot.spec.secrets, { accessToken: token }, 'secrets') as Record<
    string,
    string
  >;
  const env: ConnectorEnv = {
    now: () => new Date(),
    http: {
      timeoutMs: 2_000,
      backoffMs: 1,
      maxBackoffMs: 4,
      maxRetries: 10,
      random: mulberry32(11),
      sleep: async (ms) => {
        slept.push(ms);
      },
      ...http,
    },
  };
  return { session: hubspot.open(values, secrets, env), slept };
}

async function startFake(
  options: ConstructorParameters<typeof FakeHubspotServer>[0],
): Promise<FakeHubspotServer> {
  const fake = new FakeHubspotServer({ token: TOKEN, ...options });
  await fake.start();
  fakes.push(fake);
  return fake;
}

const fakes: FakeHubspotServer[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

/** The fields a record must carry, computed from the fake's own data rather than through the mapper. */
function expected(type: FakeObjectType, o: FakeCrmObject): Record<string, unknown> {
  const p = o.properties;
  const base = { externalId: o.id, updatedAt: o.modifiedMs, requestKey: p.nerve_request_key ?? null };
  if (type === 'contacts')
    return {
      ...base,
      email: p.email ?? null,
      firstName: p.firstname ?? null,
      lastName: p.lastname ?? null,
      company: p.company ?? null,
      lifecycleStage: p.lifecyclestage ?? null,
      createdAt: Date.parse(o.createdAt),
    };
  const closed = p.hs_is_closed === 'true';
  return {
    ...base,
    name: p.dealname ?? null,
    pipeline: p.pipeline ?? null,
    stage: p.dealstage ?? null,
    amount: p.amount === null ? null : Number(p.amount),
    won: closed ? p.hs_is_closed_won === 'true' : null,
    closedAt: closed ? Date.parse(p.closedate as string) : null,
    createdAt: Date.parse(o.createdAt),
  };
}

function actual(record: SyncedRecord): Record<string, unknown> {
  const base = {
    externalId: record.externalId,
    updatedAt: record.updatedAt.getTime(),
    requestKey: record.requestKey,
  };
  if (record.kind === 'crm_contact')
    return {
      ...base,
      email: record.email,
      firstName: record.firstName,
      lastName: record.lastName,
      company: record.company,
      lifecycleStage: record.lifecycleStage,
      createdAt: record.createdAt.getTime(),
    };
  const deal = record as CrmDealRecord;
  return {
    ...base,
    name: deal.name,
    pipeline: deal.pipeline,
    stage: deal.stage,
    amount: deal.amount,
    won: deal.won,
    closedAt: deal.closedAt?.getTime() ?? null,
    createdAt: deal.createdAt.getTime(),
  };
}

/** The hub holds exactly the fake's records, with today's values. */
function expectInSync(hub: Hub, fake: FakeHubspotServer, type: FakeObjectType): void {
  const byId = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    Number(a.externalId) - Number(b.externalId);
  const want = [...fake.objects[type].values()].map((o) => expected(type, o)).sort(byId);
  const got = [...hub.records[type].values()].map(actual).sort(byId);
  expect(got.length).toBe(want.length);
  expect(got).toEqual(want);
}

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectorError);
    return error as ConnectorError;
  }
  throw new Error('expected a rejection');
}

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const page of iterable) void page;
}

describe('HubSpot connector', () => {
  it('brings 3,000 contacts and 3,000 deals through 429s, 5xx, hangs, garbage and resets, each once', async () => {
    const fake = await startFake({ contacts: 3000, deals: 3000 });
    const faults: Fault[] = [
      { kind: 'status', status: 429, body: RATE_LIMIT_BODY, headers: { 'retry-after': '1' } },
      { kind: 'status', status: 429, body: RATE_LIMIT_BODY },
      { kind: 'status', status: 500, body: { status: 'error', message: 'internal error' } },
      { kind: 'status', status: 502 },
      { kind: 'status', status: 503 },
      { kind: 'hang' },
      { kind: 'malformed' },
      { kind: 'reset' },
    ];
    fake.faults.randomly(0.3, faults, 2024);
    const { session, slept } = open(fake, {}, TOKEN, { timeoutMs: 200 });
    const hub = new Hub();

    for (const stream of STREAMS) {
      const run = await syncStream(session, hub, stream);
      expect(run.finished).toBe(true);
      expectInSync(hub, fake, stream);
      // Re-reads are only the records sharing a page's newest timestamp (3 per instant in the fake).
      expect(run.reads.length - 3000).toBeLessThanOrEqual(run.pages * 3);
    }
    expect(fake.faults.injected).toEqual({
      status: expect.any(Number),
      hang: expect.any(Number),
      malformed: expect.any(Number),
      reset: expect.any(Number),
    });
    const statuses = fake.requests.filter((r) => typeof r.outcome === 'number').map((r) => r.outcome);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(slept).toContain(1000);
  });

  const buildResumable = async (contacts = 1200, deals = 800) => {
    const fake = await startFake({ contacts, deals, seed: 3 });
    // A bulk edit: 130 contacts share one timestamp, more than a page, so reads go through id order.
    fake.bulkUpdate(
      'contacts',
      Array.from({ length: 130 }, (_, i) => String(1 + i * 3)),
      { lifecyclestage: 'customer' },
    );
    return fake;
  };

  it.each([1, 2, 3, 4, 5])(
    'resumes a sync that dies at random pages to the same records (seed %i)',
    async (seed) => {
      const reference = new Hub();
      const one = await buildResumable();
      for (const stream of STREAMS) await syncStream(open(one, { pageSize: 50 }).session, reference, stream);

      const fake = await buildResumable();
      const hub = new Hub();
      const random = mulberry32(seed);
      let crashes = 0;
      for (const stream of STREAMS) {
        for (;;) {
          const crashAfter = 1 + Math.floor(random() * 6);
          const run = await syncStream(open(fake, { pageSize: 50 }).session, hub, stream, { crashAfter });
          if (run.finished) break;
          crashes++;
        }
      }
      expect(crashes).toBeGreaterThan(5);
      expect(hub.records).toEqual(reference.records);
      expectInSync(hub, fake, 'contacts');
      expectInSync(hub, fake, 'deals');
    },
  );

  it('resumes from every page boundary, including those inside a bulk edit', async () => {
    const reference = new Hub();
    const full = await syncStream(
      open(await buildResumable(400, 0), { pageSize: 50 }).session,
      reference,
      'contacts',
    );
    const fake = await buildResumable(400, 0);
    const crashedAt: StreamState[] = [];
    for (let k = 1; k < full.pages; k++) {
      const hub = new Hub();
      await syncStream(open(fake, { pageSize: 50 }).session, hub, 'contacts', { crashAfter: k });
      crashedAt.push(hub.states.contacts as StreamState);
      const rest = await syncStream(open(fake, { pageSize: 50 }).session, hub, 'contacts');
      expect(rest.finished).toBe(true);
      expect(hub.records.contacts).toEqual(reference.records.contacts);
    }
    // Positions in the middle of the 130-record instant, read by id.
    expect(
      crashedAt.filter((s) => s.tieAfterId !== null && s.tieAfterId !== '0').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('picks up only what changed since the last sync (plus the records sharing its last timestamp)', async () => {
    const fake = await startFake({ contacts: 600, deals: 400 });
    const hub = new Hub();
    const { session } = open(fake, { pageSize: 50 });
    for (const stream of STREAMS) await syncStream(session, hub, stream);
    const lastInstant = (type: FakeObjectType) => {
      const since = hub.states[type]?.since as number;
      return [...fake.objects[type].values()].filter((o) => o.modifiedMs === since).map((o) => o.id);
    };
    const ties = { contacts: lastInstant('contacts'), deals: lastInstant('deals') };
    expect(ties.contacts.length).toBeGreaterThan(0);

    const dealIds = [...fake.objects.deals.keys()];
    const changed = {
      contacts: ['5', '77', '301', '599'].map(
        (id) => fake.update('contacts', id, { email: `new-${id}@example.com` }).id,
      ),
      deals: fake
        .bulkUpdate('deals', [dealIds[0], dealIds[1], dealIds[250]], {
          dealstage: 'closedwon',
          hs_is_closed: 'true',
          hs_is_closed_won: 'true',
        })
        .map((o) => o.id),
    };
    changed.contacts.push(fake.create('contacts', { email: 'fresh@example.com', firstname: 'Fresh' }).id);
    changed.deals.push(
      fake.create('deals', { dealname: 'Fresh deal', amount: '99.99', hs_is_closed: 'false' }).id,
    );

    const again = open(fake, { pageSize: 50 }).session;
    for (const stream of STREAMS) {
      const run = await syncStream(again, hub, stream);
      const read = new Set(run.reads);
      for (const id of changed[stream]) expect(read).toContain(id);
      for (const id of read) expect([...changed[stream], ...ties[stream]]).toContain(id);
      expectInSync(hub, fake, stream);
    }
    expect(hub.records.contacts.get('77')).toMatchObject({ email: 'new-77@example.com' });
    expect(hub.records.deals.get(dealIds[250])).toMatchObject({ stage: 'closedwon', won: true });
  });

  it('loses nothing modified or created during a sync, where offset paging would', async () => {
    const mutate = (fake: FakeHubspotServer, readSoFar: string[]) => {
      // Records already read move to the end; with offsets, the ones after them slide into pages read.
      fake.bulkUpdate('contacts', readSoFar.slice(0, 10), { company: 'Moved Inc' });
      fake.update('contacts', '900', { email: 'late-change@example.com' });
      fake.create('contacts', { email: 'born-mid-sync@example.com' });
    };

    const fake = await startFake({ contacts: 1000 });
    const hub = new Hub();
    const reads: string[] = [];
    const { session } = open(fake, { pageSize: 50 });
    const run = await syncStream(session, hub, 'contacts', {
      afterPage: (n) => n === 1 && mutate(fake, [...hub.records.contacts.keys()]),
    });
    reads.push(...run.reads);
    expect(fake.objects.contacts.size).toBe(1001);
    expectInSync(hub, fake, 'contacts');
    expect(hub.records.contacts.get(reads[0])).toMatchObject({ company: 'Moved Inc' });

    // The same scenario read by HubSpot's own `after` offsets skips records: the test has teeth.
    const naive = await startFake({ contacts: 1000 });
    const seen = new Set<string>();
    let after: string | undefined;
    let first = true;
    do {
      const res = await fetch(`${naive.url}/crm/v3/objects/contacts/search`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: '0' }] }],
          sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }],
          properties: ['email'],
          limit: 50,
          after,
        }),
      });
      const body = (await res.json()) as { results: { id: string }[]; paging?: { next: { after: string } } };
      body.results.forEach((r) => seen.add(r.id));
      if (first) mutate(naive, [...seen]);
      first = false;
      after = body.paging?.next.after;
    } while (after);
    expect(seen.size).toBeLessThan(naive.objects.contacts.size);
  });

  it('never pages past the search cap, even through a bulk edit larger than the cap', async () => {
    const fake = await startFake({ contacts: 3000 });
    fake.searchCap = 500;
    fake.bulkUpdate(
      'contacts',
      Array.from({ length: 700 }, (_, i) => String(i * 4 + 1)),
      { lifecyclestage: 'evangelist' },
    );
    const hub = new Hub();
    const run = await syncStream(open(fake).session, hub, 'contacts');
    expect(run.finished).toBe(true);
    expectInSync(hub, fake, 'contacts');
    expect(fake.requests.every((r) => r.outcome === 200)).toBe(true);
    // 700 records of one instant were read in id order: 7 full pages, the last without `paging.next`.
    const byId = fake.requests.filter((r) => r.filters?.[0].includes('hs_object_id GT'));
    expect(byId).toHaveLength(7);
    expect(byId.map((r) => r.sort)).toEqual(Array(7).fill('hs_object_id ASCENDING'));
    expect(run.pages).toBeLessThan(3000 / 97 + 8 + 2);

    // The cap is real in the fake: HubSpot's `after` offset at the cap is refused.
    const res = await fetch(`${fake.url}/crm/v3/objects/contacts/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filterGroups: [], sorts: [], properties: [], limit: 100, after: '500' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
  });

  it('ends when more than a page of records share every timestamp', async () => {
    const fake = await startFake({ deals: 1000, tieGroup: 250 });
    const hub = new Hub();
    const run = await syncStream(open(fake, { pageSize: 100 }).session, hub, 'deals');
    expect(run.finished).toBe(true);
    expectInSync(hub, fake, 'deals');
    expect(fake.requests.length).toBeLessThan(60);
  });

  // HubSpot promises no page size: 3 results a page with `paging.next` is not the end of 57 contacts.
  it('reads every record when the vendor serves short pages with a next link', async () => {
    const fake = await startFake({ contacts: 57, deals: 40, tieGroup: 5 });
    fake.maxResultsPerPage = 3;
    const hub = new Hub();
    for (const stream of STREAMS) {
      const run = await syncStream(open(fake, { pageSize: 100 }).session, hub, stream);
      expect(run.finished).toBe(true);
      expectInSync(hub, fake, stream);
    }
    expect(hub.records.contacts.size).toBe(57);
    expect(fake.requests.every((r) => r.outcome === 200)).toBe(true);
  });

  it('fails check() PERMANENTLY on a refused token, after one retry and without showing the token', async () => {
    const fake = await startFake({ contacts: 1 });
    const wrong = 'pat-na1-99999999-wrong-token-value';
    const error = await rejection(open(fake, {}, wrong).session.check());
    expect(error.kind).toBe('PERMANENT');
    expect(error.details).toMatchObject({ status: 401, field: 'secrets.accessToken' });
    expect(error.message).toMatch(/HubSpot check .* 401: the private app access token was refused/);
    expect(error.message).not.toContain(wrong);
    expect(JSON.stringify(error.details)).not.toContain(wrong);
    expect(fake.requests.map((r) => `${r.method} ${r.path} ${r.outcome}`)).toEqual([
      'GET /crm/v3/objects/contacts 401',
      'GET /crm/v3/objects/contacts 401',
    ]);

    await expect(open(fake).session.check()).resolves.toBeUndefined();
  });

  it('stops a sync PERMANENTLY when the token is revoked mid-way, and resumes with a new one', async () => {
    const fake = await startFake({ contacts: 500 });
    const hub = new Hub();
    const error = await rejection(
      syncStream(open(fake, { pageSize: 50 }).session, hub, 'contacts', {
        afterPage: (n) => n === 2 && fake.expireToken(),
      }),
    );
    expect(error.kind).toBe('PERMANENT');
    expect(error.message).not.toContain(TOKEN);
    expect(hub.records.contacts.size).toBeGreaterThanOrEqual(90);

    fake.rotateToken('pat-na1-rotated');
    await syncStream(open(fake, { pageSize: 50 }, 'pat-na1-rotated').session, hub, 'contacts');
    expectInSync(hub, fake, 'contacts');
  });

  it('fails fast and PERMANENTLY on the DAILY limit, and waits out a TEN_SECONDLY one as told', async () => {
    const fake = await startFake({ contacts: 3 });
    fake.faults.next({ kind: 'status', status: 429, body: DAILY_BODY });
    const daily = open(fake);
    const error = await rejection(daily.session.check());
    expect(error.kind).toBe('PERMANENT');
    expect(error.message).toMatch(/daily API limit/);
    expect(fake.requests).toHaveLength(1);
    expect(daily.slept).toEqual([]);

    fake.faults.next({ kind: 'status', status: 429, body: RATE_LIMIT_BODY, headers: { 'retry-after': '7' } });
    const secondly = open(fake);
    await secondly.session.check();
    expect(secondly.slept).toEqual([7000]);

    fake.faults.next({ kind: 'status', status: 429, body: RATE_LIMIT_BODY });
    const hub = new Hub();
    const search = open(fake);
    await syncStream(search.session, hub, 'contacts');
    expect(search.slept).toHaveLength(1);
    expect(search.slept[0]).toBeLessThanOrEqual(1);
    expect(hub.records.contacts.size).toBe(3);
  });

  it('names the bad field in config and secrets, and fills defaults', () => {
    expect(validateFields(hubspot.spec.config, {}, 'config')).toEqual({
      baseUrl: 'https://api.hubapi.com',
      pageSize: 100,
      requestKeyProperty: 'nerve_request_key',
    });
    const field = (fields: typeof hubspot.spec.config, input: unknown, prefix: string) => {
      try {
        validateFields(fields, input, prefix);
      } catch (error) {
        expect(error).toMatchObject({ kind: 'PERMANENT' });
        return (error as ConnectorError).details.field;
      }
      return undefined;
    };
    expect(field(hubspot.spec.config, { pageSize: 0 }, 'config')).toBe('config.pageSize');
    expect(field(hubspot.spec.config, { pageSize: 101 }, 'config')).toBe('config.pageSize');
    expect(field(hubspot.spec.config, { pageSize: 'ten' }, 'config')).toBe('config.pageSize');
    expect(field(hubspot.spec.config, { baseUrl: 'ftp://api.hubapi.com' }, 'config')).toBe('config.baseUrl');
    expect(field(hubspot.spec.config, { baseUrl: 'https://me:pw@api.hubapi.com' }, 'config')).toBe(
      'config.baseUrl',
    );
    expect(field(hubspot.spec.config, { requestKeyProperty: 7 }, 'config')).toBe('config.requestKeyProperty');
    expect(field(hubspot.spec.config, { portalId: 123 }, 'config')).toBe('config.portalId');
    expect(field(hubspot.spec.secrets, {}, 'secrets')).toBe('secrets.accessToken');
    expect(hubspot.streams).toEqual([
      { name: 'contacts', recordKind: 'crm_contact', primaryKey: 'id', cursorField: 'lastmodifieddate' },
      { name: 'deals', recordKind: 'crm_deal', primaryKey: 'id', cursorField: 'hs_lastmodifieddate' },
    ]);
    expect(hubspot.actions).toEqual([]);
  });

  it('syncs through a schema change: odd values become null and raw keeps them', async () => {
    const fake = await startFake({ contacts: 300, deals: 300 });
    fake.schemaChange = true;
    const hub = new Hub();
    const session = open(fake).session;
    for (const stream of STREAMS) expect((await syncStream(session, hub, stream)).finished).toBe(true);
    expect(hub.records.contacts.size).toBe(300);
    expect(hub.records.deals.size).toBe(300);
    for (const record of hub.records.deals.values()) {
      const deal = record as CrmDealRecord;
      expect(deal.amount).toBeNull();
      expect(deal.pipeline).toBeNull();
      expect(deal.raw).toMatchObject({ properties: { amount: 'n/a', hs_new_score: '42' } });
    }
    for (const record of hub.records.contacts.values()) {
      const contact = record as CrmContactRecord;
      const source = fake.objects.contacts.get(contact.externalId) as FakeCrmObject;
      expect(contact.lifecycleStage).toBeNull();
      expect(contact.email).toBe(source.properties.email);
      // `createdate` is garbage now; the object's own createdAt stands in.
      expect(contact.createdAt.toISOString()).toBe(source.createdAt);
      expect(contact.raw).toMatchObject({ properties: { createdate: 'last tuesday', hs_new_score: '42' } });
    }
  });

  it('refuses a record without an id, naming the stream and position, rather than skipping it', async () => {
    const fake = await startFake({ contacts: 3 });
    fake.faults.next({
      kind: 'status',
      status: 200,
      body: { total: 1, results: [{ properties: { lastmodifieddate: '2024-01-01T00:00:00.000Z' } }] },
    });
    const error = await rejection(drain(open(fake).session.read('contacts', { since: 5, tieAfterId: null })));
    expect(error.kind).toBe('PERMANENT');
    expect(error.message).toContain('HubSpot contacts');
    expect(error.message).toContain('{"since":5,"tieAfterId":null}');
  });

  it('refuses actions, unknown streams and foreign state PERMANENTLY', async () => {
    const fake = await startFake({});
    const { session } = open(fake);
    const act = await rejection(session.act('create_deal', {}, 'key-1'));
    expect(act.kind).toBe('PERMANENT');
    expect(act.message).toContain('create_deal');
    expect(() => session.read('tickets', null)).toThrow(/no stream "tickets"/);
    const state = await rejection(drain(session.read('deals', { cursor: 'abc' })));
    expect(state.kind).toBe('PERMANENT');
    expect(fake.requests).toHaveLength(0);
  });
});
