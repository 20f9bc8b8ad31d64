import { mulberry32 } from '../../src/common/random';
import { FakeUiPathServer } from '../../test/fakes/uipath-server';
import type { Fault } from '../../test/fakes/faults';
import type { ConnectorEnv, ConnectorSession, StreamState } from '../_shared/contract';
import { ConnectorError } from '../_shared/errors';
import type { QueueItemRecord, RpaJobRecord, SyncedRecord } from '../_shared/records';
import { validateFields } from '../_shared/validate';
import { uipath } from './index';

const SECRET = 'fake-client-secret-1234';
const FOLDER = 7;

type Stream = 'jobs' | 'queueItems';

interface Harness {
  server: FakeUiPathServer;
  urls: { orchestratorUrl: string; identityUrl: string };
  /** Every wait the HTTP clients asked for, in ms. */
  sleeps: number[];
}

const harnesses: Harness[] = [];

async function harness(options: ConstructorParameters<typeof FakeUiPathServer>[0] = {}): Promise<Harness> {
  const server = new FakeUiPathServer({ folderId: FOLDER, clientSecret: SECRET, ...options });
  const urls = await server.start();
  const h = { server, urls, sleeps: [] };
  harnesses.push(h);
  return h;
}

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.server.close()));
});

function open(
  h: Harness,
  overrides: { config?: Record<string, unknown>; secrets?: Record<string, string>; now?: () => Date } = {},
): ConnectorSession {
  const config = validateFields(
    uipath.spec.config,
    { ...h.urls, folderId: FOLDER, pageSize: 100, ...overrides.config },
    'config',
  );
  const secrets = validateFields(
    uipath.spec.secrets,
    { clientId: 'nerve-app', clientSecret: SECRET, ...overrides.secrets },
    'secrets',
  ) as Record<string, string>;
  const random = mulberry32(99);
  const env: ConnectorEnv = {
    now: overrides.now ?? (() => new Date()),
    http: {
      timeoutMs: 200,
      backoffMs: 10,
      random,
      sleep: async (ms) => {
        h.sleeps.push(ms);
      },
    },
  };
  return uipath.open(config, secrets, env);
}

interface DriveResult {
  state: StreamState | null;
  pages: number;
  /** True when the driver stopped early (a simulated crash), false when the stream was caught up. */
  crashed: boolean;
  /** Records yielded in this run, in order. */
  yielded: SyncedRecord[];
}

/**
 * What the hub does: upsert each page's records by externalId and keep the page's state, one page at a
 * time. `crashAfter` stops after that many pages, as a process dying would, keeping what was committed.
 */
async function drive(
  session: ConnectorSession,
  stream: Stream,
  state: StreamState | null,
  store: Map<string, SyncedRecord>,
  options: { crashAfter?: number; onPage?: (page: number) => void } = {},
): Promise<DriveResult> {
  let pages = 0;
  const yielded: SyncedRecord[] = [];
  for await (const page of session.read(stream, state)) {
    for (const record of page.records) {
      store.set(record.externalId, record);
      yielded.push(record);
    }
    state = page.state;
    pages++;
    options.onPage?.(pages);
    if (options.crashAfter !== undefined && pages >= options.crashAfter)
      return { state, pages, crashed: true, yielded };
  }
  return { state, pages, crashed: false, yielded };
}

/** The store matches Orchestrator's current data for the folder, exactly. */
function expectMatchesServer(h: Harness, stream: Stream, store: Map<string, SyncedRecord>): void {
  const truth = h.server.snapshot(stream);
  expect(store.size).toBe(truth.length);
  for (const row of truth) {
    const record = store.get(String(row.Id));
    expect(record).toBeDefined();
    expect(record?.raw.LastModificationTime).toBe(row.LastModificationTime);
    if (stream === 'jobs') {
      const job = record as RpaJobRecord;
      expect(job.state).toBe(row.State);
      expect(job.releaseName).toBe(row.ReleaseName);
      expect(job.robotName).toBe((row.RobotRef as { Name: string }).Name);
    } else {
      const item = record as QueueItemRecord;
      expect(item.status).toBe(row.Status);
      expect(item.reference).toBe(row.Reference);
      expect(item.queueName).toBe(row.QueueDefinitionId === 11 ? 'Invoices' : 'Claims');
    }
  }
}

const FLAKY: Fault[] = [
  { kind: 'status', status: 429, headers: { 'retry-after': '1' }, body: { message: 'Too Many Requests' } },
  { kind: 'status', status: 503, body: { message: 'Service Unavailable' } },
  { kind: 'status', status: 500, body: { message: 'An error has occurred.', errorCode: 0 } },
  { kind: 'hang' },
  { kind: 'malformed' },
  { kind: 'reset' },
];

describe('uipath connector against a fake Orchestrator', () => {
  it('delivers thousands of jobs and queue items exactly once through random faults', async () => {
    const h = await harness({ jobs: 2000, queueItems: 3000, seed: 3 });
    h.server.faults.randomly(0.2, FLAKY, 11);
    h.server.tokenFaults.randomly(0.3, FLAKY.slice(0, 3), 12);
    const session = open(h);
    for (const stream of ['jobs', 'queueItems'] as const) {
      const store = new Map<string, SyncedRecord>();
      const run = await drive(session, stream, null, store);
      expect(run.crashed).toBe(false);
      const seen = new Map<string, number>();
      for (const r of run.yielded) seen.set(r.externalId, (seen.get(r.externalId) ?? 0) + 1);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(seen.size).toBe(stream === 'jobs' ? 2000 : 3000);
      expectMatchesServer(h, stream, store);
    }
    const injected = h.server.faults.injected;
    for (const kind of ['status', 'hang', 'malformed', 'reset']) expect(injected[kind]).toBeGreaterThan(0);
    // Retry-After: 1 was honoured as a 1,000 ms wait, not replaced by the (10 ms) backoff.
    expect(h.sleeps).toContain(1000);
    // Nothing outside the folder leaked, and every Orchestrator request named the folder.
    const odata = h.server.requests.filter((r) => r.path.includes('/odata/'));
    expect(odata.every((r) => r.folder === String(FOLDER))).toBe(true);
    expect(odata.some((r) => '$skip' in r.query)).toBe(false);
  });

  it('honours a long Retry-After exactly', async () => {
    const h = await harness({ jobs: 50, queueItems: 0 });
    h.server.faults.next({ kind: 'status', status: 429, headers: { 'retry-after': '7' }, body: {} });
    const store = new Map<string, SyncedRecord>();
    await drive(open(h), 'jobs', null, store);
    expect(h.sleeps).toEqual([7000]);
    expect(store.size).toBe(50);
  });

  it.each([1, 2, 3, 4])(
    'resumes after crashes at random pages to the same final map (seed %i)',
    async (seed) => {
      const h = await harness({ jobs: 1200, queueItems: 900, seed });
      const random = mulberry32(seed);
      for (const stream of ['jobs', 'queueItems'] as const) {
        const reference = new Map<string, SyncedRecord>();
        await drive(open(h), stream, null, reference);

        h.server.faults.randomly(0.1, FLAKY, seed);
        const store = new Map<string, SyncedRecord>();
        let state: StreamState | null = null;
        let crashes = 0;
        for (;;) {
          // A new session each time, as after a process restart: nothing survives but the committed state.
          const run = await drive(open(h), stream, state, store, {
            crashAfter: 1 + Math.floor(random() * 4),
          });
          state = run.state;
          if (!run.crashed) break;
          crashes++;
        }
        h.server.faults.clear();
        expect(crashes).toBeGreaterThan(1);
        expect(store.size).toBe(reference.size);
        const strip = (r: SyncedRecord | undefined) => r && { ...r, updatedAt: r.updatedAt.toISOString() };
        for (const [id, record] of reference) expect(strip(store.get(id))).toEqual(strip(record));
      }
    },
  );

  it('syncs incrementally and loses no record modified or added during a sync', async () => {
    const h = await harness({ jobs: 2000, queueItems: 0, seed: 5 });
    const session = open(h);
    const store = new Map<string, SyncedRecord>();
    const first = await drive(session, 'jobs', null, store);
    expectMatchesServer(h, 'jobs', store);

    // Between syncs: a few modifications (two in one transaction, so they tie) and one new job.
    const ids = h.server.ids('jobs');
    h.server.modifyJobs([ids[5], ids[1500]], () => ({ State: 'Faulted' }));
    h.server.modifyJobs([ids[42]]);
    const added = h.server.addJob({ InputArguments: JSON.stringify({ NerveRequestKey: 'req-new' }) });
    const second = await drive(session, 'jobs', first.state, store);
    expect(second.yielded.map((r) => r.externalId).sort()).toEqual(
      [ids[5], ids[1500], ids[42], added.Id].map(String).sort(),
    );
    expect((store.get(String(ids[5])) as RpaJobRecord).state).toBe('Faulted');
    expect(store.get(String(added.Id))?.requestKey).toBe('req-new');
    expectMatchesServer(h, 'jobs', store);

    // During a sync: rows already read, rows not yet read, a never-modified row, ties, and a new row.
    const neverModified = h.server.snapshot('jobs').filter((r) => r.LastModificationTime === null)[0].Id;
    const idle = await drive(session, 'jobs', second.state, store);
    expect(idle.yielded).toEqual([]);
    const fresh = new Map<string, SyncedRecord>();
    const third = await drive(session, 'jobs', null, fresh, {
      onPage: (page) => {
        if (page === 4) {
          h.server.modifyJobs([ids[0], ids[1], ids[1999], neverModified], () => ({ State: 'Stopped' }));
          h.server.addJob();
        }
        if (page === 10) h.server.modifyJobs([ids[3], ids[1998]]);
      },
    });
    // Every modification made during the sync arrived in it; the job added after the never-modified
    // pass arrives with the next sync, and nothing else does.
    for (const id of [ids[0], ids[1], ids[1999], neverModified, ids[3], ids[1998]])
      expect(fresh.get(String(id))?.raw.LastModificationTime).toBe(
        h.server.snapshot('jobs').find((r) => r.Id === id)?.LastModificationTime,
      );
    const after = await drive(session, 'jobs', third.state, fresh);
    expect(after.yielded.map((r) => r.externalId)).toEqual([String(h.server.ids('jobs').at(-1))]);
    expectMatchesServer(h, 'jobs', fresh);
  });

  it('pages correctly when the page size splits ties and times carry 100 ns digits', async () => {
    const h = await harness({ jobs: 300, queueItems: 0, seed: 9 });
    // Ten rows in one transaction: one LastModificationTime, split across pages of 3.
    const ids = h.server.ids('jobs');
    h.server.modifyJobs(ids.slice(100, 110));
    const store = new Map<string, SyncedRecord>();
    const run = await drive(open(h, { config: { pageSize: 3 } }), 'jobs', null, store);
    expect(run.yielded.length).toBe(300);
    expectMatchesServer(h, 'jobs', store);
    const modified = h.server.requests.filter((r) => r.query.$filter?.includes(' gt 20'));
    // Times went back exactly as Orchestrator sent them (seven fractional digits).
    expect(modified.length).toBeGreaterThan(0);
    expect(modified.every((r) => /gt \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z/.test(r.query.$filter))).toBe(
      true,
    );
  });

  // Server-driven paging serves fewer rows than `$top` with a next link; a short page is not the end.
  it('reads every row and every queue name when the server caps pages below $top', async () => {
    const h = await harness({ jobs: 40, queueItems: 57, seed: 5 });
    h.server.maxTop = 1;
    h.server.modifyJobs(h.server.ids('jobs').slice(0, 10));
    const session = open(h);
    for (const stream of ['jobs', 'queueItems'] as const) {
      const store = new Map<string, SyncedRecord>();
      const run = await drive(session, stream, null, store);
      expect(run.crashed).toBe(false);
      expect(store.size).toBe(stream === 'jobs' ? 40 : 57);
      expectMatchesServer(h, stream, store);
    }
  });

  it('refreshes the token when Orchestrator rejects it mid-sync, and renews it before expiry', async () => {
    const h = await harness({ jobs: 1000, queueItems: 0 });
    const store = new Map<string, SyncedRecord>();
    const run = await drive(open(h), 'jobs', null, store, {
      onPage: (page) => {
        if (page === 3 || page === 7) h.server.expireTokens();
      },
    });
    expect(run.crashed).toBe(false);
    expect(h.server.tokensIssued).toBe(3);
    expect(h.server.unauthenticated).toBe(2);
    expectMatchesServer(h, 'jobs', store);

    // A clock that moves an hour per page: the cached token is renewed before use, never sent stale.
    const h2 = await harness({ jobs: 500, queueItems: 0, tokenTtlSeconds: 3600 });
    let now = Date.UTC(2025, 0, 1);
    const store2 = new Map<string, SyncedRecord>();
    await drive(open(h2, { now: () => new Date(now) }), 'jobs', null, store2, {
      onPage: () => (now += 3600_000),
    });
    expect(h2.server.tokensIssued).toBeGreaterThan(3);
    expect(h2.server.unauthenticated).toBe(0);
    expect(store2.size).toBe(500);
  });

  it('check() fails PERMANENT on a refused client secret without echoing it', async () => {
    const h = await harness({ jobs: 1, queueItems: 1 });
    const wrong = 'wrong-secret-XYZ-987';
    const error = await open(h, { secrets: { clientSecret: wrong } })
      .check()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).kind).toBe('PERMANENT');
    expect((error as ConnectorError).message).toMatch(/client credentials were refused/);
    expect((error as ConnectorError).message).not.toContain(wrong);
    expect((error as ConnectorError).message).not.toContain(SECRET);
    await expect(open(h).check()).resolves.toBeUndefined();
  });

  it('check() names the folder when it does not exist, and the scope when it is not granted', async () => {
    const h = await harness({ jobs: 1, queueItems: 1 });
    const error = (await open(h, { config: { folderId: 999 } })
      .check()
      .catch((e: unknown) => e)) as ConnectorError;
    expect(error.kind).toBe('PERMANENT');
    expect(error.details.field).toBe('config.folderId');
    expect(error.message).toMatch(/folder 999/);

    const scope = (await open(h, { config: { scope: 'OR.Jobs OR.Everything' } })
      .check()
      .catch((e: unknown) => e)) as ConnectorError;
    expect(scope.kind).toBe('PERMANENT');
    expect(scope.details.field).toBe('config.scope');

    const narrow = (await open(h, { config: { scope: 'OR.Jobs' } })
      .check()
      .catch((e: unknown) => e)) as ConnectorError;
    expect(narrow.kind).toBe('PERMANENT');
    expect(narrow.details.status).toBe(403);
  });

  it('the fake refuses a request without a folder the way Orchestrator does', async () => {
    const h = await harness({ jobs: 1, queueItems: 1 });
    const token = (await (
      await fetch(`${h.urls.identityUrl}/connect/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: 'nerve-app',
          client_secret: SECRET,
          scope: 'OR.Jobs',
        }),
      })
    ).json()) as { access_token: string; token_type: string };
    expect(token.token_type).toBe('Bearer');
    const res = await fetch(`${h.urls.orchestratorUrl}/odata/Jobs`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 1101 });
  });

  it('addQueueItem stores the request key and a retried action never adds a second item', async () => {
    const h = await harness({ jobs: 0, queueItems: 10 });
    const session = open(h);
    const input = {
      queueName: 'Invoices',
      specificContent: { Amount: 12.5, Vip: true },
      requestKey: 'req-1',
    };
    const first = await session.act('addQueueItem', input, 'idem-1');
    expect(first.stream).toBe('queueItems');
    const stored = h.server.itemsWithReference('Invoices', 'idem-1');
    expect(stored).toHaveLength(1);
    expect(String(stored[0].Id)).toBe(first.externalId);
    expect(stored[0].SpecificContent).toEqual({ Amount: 12.5, Vip: true, NerveRequestKey: 'req-1' });
    expect(stored[0].Priority).toBe('Normal');

    const again = await open(h).act('addQueueItem', input, 'idem-1');
    expect(again.externalId).toBe(first.externalId);
    expect(h.server.itemsWithReference('Invoices', 'idem-1')).toHaveLength(1);

    // The item is stored but the reply is lost: the retry finds it instead of adding another, even in
    // a queue that does not enforce unique references.
    h.server.loseAddQueueItemReplies = 1;
    const lost = await session.act('addQueueItem', { queueName: 'Claims', priority: 'High' }, 'idem-2');
    const claims = h.server.itemsWithReference('Claims', 'idem-2');
    expect(claims).toHaveLength(1);
    expect(String(claims[0].Id)).toBe(lost.externalId);
    expect(claims[0].Priority).toBe('High');

    // Without an idempotency key a duplicate reference (409, errorCode 1016) returns the existing item.
    const byRef = await session.act('addQueueItem', { queueName: 'Invoices', reference: 'ref-9' }, undefined);
    const dup = await session.act('addQueueItem', { queueName: 'Invoices', reference: 'ref-9' }, undefined);
    expect(dup.externalId).toBe(byRef.externalId);
    expect(h.server.itemsWithReference('Invoices', 'ref-9')).toHaveLength(1);
    const posts = h.server.requests.filter((r) => r.path.endsWith('UiPathODataSvc.AddQueueItem'));
    // One each for idem-1, idem-2 (stored, reply lost, then found), ref-9 and its duplicate (409).
    expect(posts).toHaveLength(4);

    // The new items arrive through the stream with their request key.
    const store = new Map<string, SyncedRecord>();
    await drive(session, 'queueItems', null, store);
    expect(store.get(first.externalId)?.requestKey).toBe('req-1');
    expect((store.get(first.externalId) as QueueItemRecord).queueName).toBe('Invoices');
  });

  it('addQueueItem refuses bad input and unknown queues, naming the field', async () => {
    const h = await harness({ jobs: 0, queueItems: 0 });
    const session = open(h);
    const bad = (await session
      .act('addQueueItem', { queueName: 'Invoices', priority: 'Urgent' }, undefined)
      .catch((e: unknown) => e)) as ConnectorError;
    expect(bad.details.field).toBe('input.priority');
    const missing = (await session
      .act('addQueueItem', { queueName: 'Nope' }, 'k')
      .catch((e: unknown) => e)) as ConnectorError;
    expect(missing.kind).toBe('PERMANENT');
    expect(missing.details.field).toBe('input.queueName');
  });

  it('survives a schema change, keeping unknown fields in raw', async () => {
    const h = await harness({ jobs: 120, queueItems: 120 });
    h.server.schemaChange = true;
    const jobs = new Map<string, SyncedRecord>();
    await drive(open(h), 'jobs', null, jobs);
    expect(jobs.size).toBe(120);
    for (const record of jobs.values()) {
      const job = record as RpaJobRecord;
      expect(job.releaseName).toBeNull();
      expect(job.robotName).toBeNull();
      expect(job.requestKey).toBeNull();
      expect(job.raw.AutopilotInsights).toEqual({ score: 0.5 });
      expect(Number.isNaN(job.createdAt.getTime())).toBe(false);
    }
    const items = new Map<string, SyncedRecord>();
    await drive(open(h), 'queueItems', null, items);
    expect(items.size).toBe(120);
    expect([...items.values()].every((r) => (r as QueueItemRecord).priority === null)).toBe(true);
  });

  it('stops PERMANENT, naming stream and position, on a record without an Id', async () => {
    const h = await harness({ jobs: 10, queueItems: 0 });
    h.server.faults.next({
      kind: 'status',
      status: 200,
      body: { '@odata.count': 2, value: [{ Id: 1, LastModificationTime: null }, { State: 'Running' }] },
    });
    const error = (await drive(open(h), 'jobs', null, new Map()).catch((e: unknown) => e)) as ConnectorError;
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.kind).toBe('PERMANENT');
    expect(error.message).toMatch(/jobs: record 2 of the page of never-modified jobs after Id 0 has no Id/);
  });

  it('refuses a saved state it did not write', async () => {
    const h = await harness({ jobs: 1, queueItems: 0 });
    const error = (await drive(open(h), 'jobs', { cursor: 'x' }, new Map()).catch(
      (e: unknown) => e,
    )) as ConnectorError;
    expect(error.kind).toBe('PERMANENT');
  });
});

describe('uipath spec', () => {
  it('validateFields names the bad config and secret fields', () => {
    const base = {
      orchestratorUrl: 'https://cloud.uipath.com/o/t/orchestrator_',
      identityUrl: 'https://x/identity_',
    };
    const bad = (input: Record<string, unknown>, fields = uipath.spec.config, prefix = 'config'): string => {
      try {
        validateFields(fields, input, prefix);
      } catch (error) {
        return (error as ConnectorError).details.field ?? '';
      }
      return 'accepted';
    };
    expect(bad({ ...base })).toBe('config.folderId');
    expect(bad({ ...base, folderId: 1.5 })).toBe('config.folderId');
    expect(bad({ ...base, folderId: 3, pageSize: 5000 })).toBe('config.pageSize');
    expect(bad({ ...base, folderId: 3, pageSize: 0 })).toBe('config.pageSize');
    expect(bad({ ...base, folderId: 3, orchestratorUrl: 'not a url' })).toBe('config.orchestratorUrl');
    expect(bad({ ...base, folderId: 3, identityUrl: 'https://u:p@x/identity_' })).toBe('config.identityUrl');
    expect(bad({ ...base, folderId: 3, tenant: 'x' })).toBe('config.tenant');
    expect(bad({ clientId: 'a' }, uipath.spec.secrets, 'secrets')).toBe('secrets.clientSecret');
    const ok = validateFields(uipath.spec.config, { ...base, folderId: 3 }, 'config');
    expect(ok).toMatchObject({
      scope: 'OR.Jobs OR.Queues',
      pageSize: 100,
      requestKeyField: 'NerveRequestKey',
    });
  });

  it('declares both streams keyed by Id and the addQueueItem action', () => {
    expect(uipath.streams.map((s) => [s.name, s.recordKind, s.primaryKey])).toEqual([
      ['jobs', 'rpa_job', 'Id'],
      ['queueItems', 'queue_item', 'Id'],
    ]);
    expect(uipath.actions.map((a) => a.name)).toEqual(['addQueueItem']);
  });
});
