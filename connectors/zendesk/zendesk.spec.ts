import { mulberry32 } from '../../src/common/random';
import { FakeZendeskServer } from '../../test/fakes/zendesk-server';
import type { FakeTicket } from '../../test/fakes/zendesk-server';
import type { Fault } from '../../test/fakes/faults';
import { ConnectorError, validateFields } from '../_shared';
import type { ConnectorSession, StreamState, TicketRecord } from '../_shared';
import { zendesk } from './index';

/** What the hub keeps per stream: records upserted by externalId, the last state written. */
interface Hub {
  records: Map<string, TicketRecord>;
  state: StreamState | null;
  /** Times each externalId was written, across all syncs. */
  writes: Map<string, number>;
}

const newHub = (): Hub => ({ records: new Map(), state: null, writes: new Map() });

/**
 * The hub's loop: each page's records and state are written together before the next page is asked
 * for. `crashAfter` stops after that many pages as a dying worker would (the iterator is abandoned).
 * Returns the records read in this sync.
 */
async function sync(
  session: ConnectorSession,
  hub: Hub,
  options: { crashAfter?: number; onPage?: (page: number) => void } = {},
): Promise<TicketRecord[]> {
  const read: TicketRecord[] = [];
  let pages = 0;
  for await (const page of session.read('tickets', hub.state)) {
    for (const record of page.records) {
      if (record.kind !== 'ticket') throw new Error(`unexpected ${record.kind}`);
      hub.records.set(record.externalId, record);
      hub.writes.set(record.externalId, (hub.writes.get(record.externalId) ?? 0) + 1);
      read.push(record);
    }
    hub.state = page.state;
    pages++;
    options.onPage?.(pages);
    if (pages === options.crashAfter) break;
  }
  return read;
}

interface Opened {
  session: ConnectorSession;
  /** Every backoff the HTTP client asked for, in ms. */
  sleeps: number[];
}

function open(
  baseUrl: string,
  fake: FakeZendeskServer,
  options: { token?: string; config?: Record<string, unknown>; seed?: number } = {},
): Opened {
  const sleeps: number[] = [];
  const config = validateFields(
    zendesk.spec.config,
    {
      baseUrl,
      email: fake.email,
      pageSize: 100,
      routingFieldId: fake.routingFieldId,
      requestKeyFieldId: fake.requestKeyFieldId,
      ...options.config,
    },
    'config',
  );
  const secrets = validateFields(zendesk.spec.secrets, { apiToken: options.token ?? fake.token }, 'secrets');
  const session = zendesk.open(config, secrets as Record<string, string>, {
    now: () => new Date('2024-06-01T00:00:00Z'),
    http: {
      timeoutMs: 200,
      maxRetries: 12,
      backoffMs: 5,
      random: mulberry32(options.seed ?? 1),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
  });
  return { session, sleeps };
}

/** The fields the hub models, from a record. */
function project(r: TicketRecord) {
  return {
    status: r.status,
    subject: r.subject,
    priority: r.priority,
    channel: r.channel,
    requesterId: r.requesterId,
    assigneeId: r.assigneeId,
    groupId: r.groupId,
    tags: r.tags,
    routing: r.routing,
    requestKey: r.requestKey,
    updatedAt: r.updatedAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
    solvedAt: r.solvedAt?.toISOString() ?? null,
    replies: r.replies,
    reopens: r.reopens,
  };
}

/** The same fields straight from the fake's store: the ground truth. */
function truth(fake: FakeZendeskServer): Map<string, ReturnType<typeof project>> {
  const field = (t: FakeTicket, id: number) => {
    const v = t.customFields[id];
    return v === null || v === undefined ? null : String(v);
  };
  const iso = (s: number) => new Date(s * 1000).toISOString();
  return new Map(
    fake.tickets().map((t) => [
      String(t.id),
      {
        status: t.status,
        subject: t.subject,
        priority: t.priority,
        channel: t.channel,
        requesterId: String(t.requesterId),
        assigneeId: t.assigneeId === null ? null : String(t.assigneeId),
        groupId: t.groupId === null ? null : String(t.groupId),
        tags: t.tags,
        routing: field(t, fake.routingFieldId),
        requestKey: field(t, fake.requestKeyFieldId),
        updatedAt: iso(t.updatedAt),
        createdAt: iso(t.createdAt),
        solvedAt: t.metrics?.solvedAt ? iso(t.metrics.solvedAt) : null,
        replies: t.metrics ? t.metrics.replies : null,
        reopens: t.metrics ? t.metrics.reopens : null,
      },
    ]),
  );
}

const projected = (hub: Hub) => new Map([...hub.records].map(([id, r]) => [id, project(r)]));

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

const FLAKY: Fault[] = [
  { kind: 'status', status: 429, headers: { 'retry-after': '3' }, body: { error: 'APIRateLimitExceeded' } },
  { kind: 'status', status: 500, body: { error: 'InternalError' } },
  { kind: 'status', status: 503, body: { error: 'ServiceUnavailable' } },
  { kind: 'hang' },
  { kind: 'malformed' },
  { kind: 'reset' },
];

describe('Zendesk connector against the fake Zendesk', () => {
  const fakes: FakeZendeskServer[] = [];
  async function fakeZendesk(tickets: number, seed = 7): Promise<[FakeZendeskServer, string]> {
    const fake = new FakeZendeskServer({ tickets, seed });
    fakes.push(fake);
    return [fake, await fake.start()];
  }
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  it('brings 5,000 tickets through random faults, each exactly once, with the vendor’s values', async () => {
    const [fake, url] = await fakeZendesk(5000);
    fake.faults.randomly(0.25, FLAKY, 42);
    const { session, sleeps } = open(url, fake);
    const hub = newHub();

    const read = await sync(session, hub);

    expect(read).toHaveLength(5000);
    expect(new Set(read.map((r) => r.externalId)).size).toBe(5000);
    expect([...hub.writes.values()].every((n) => n === 1)).toBe(true);
    expect(projected(hub)).toEqual(truth(fake));
    for (const kind of ['status', 'hang', 'malformed', 'reset'])
      expect(fake.faults.injected[kind]).toBeGreaterThan(0);
    // Every 429 asked for 3 s, and the client waited exactly that.
    expect(sleeps).toContain(3000);
    const deleted = [...hub.records.values()].filter((r) => r.status === 'deleted');
    expect(deleted.map((r) => r.externalId).sort()).toEqual(
      fake
        .tickets()
        .filter((t) => t.status === 'deleted')
        .map((t) => String(t.id))
        .sort(),
    );
    expect(deleted.length).toBeGreaterThan(0);
    // Wire: the first call starts at start_time, later ones follow after_cursor, always with metric sets.
    const exports = fake.requests.filter((r) => r.path === '/api/v2/incremental/tickets/cursor.json');
    expect(exports[0].query).toEqual({ start_time: '0', per_page: '100', include: 'metric_sets' });
    expect(exports.at(-1)?.query.cursor).toEqual(expect.any(String));
    expect(exports.every((r) => r.authorized)).toBe(true);
  });

  it('honours Retry-After on a rate-limited export', async () => {
    const [fake, url] = await fakeZendesk(10);
    fake.faults.next({ kind: 'status', status: 429, headers: { 'retry-after': '7' } });
    const { session, sleeps } = open(url, fake);
    const hub = newHub();
    await sync(session, hub);
    expect(sleeps).toEqual([7000]);
    expect(hub.records.size).toBe(10);
  });

  it.each([11, 23, 58])(
    'resumes after a crash at a random page (seed %i) to the same final map',
    async (seed) => {
      const [fake, url] = await fakeZendesk(2000, seed);
      fake.faults.randomly(0.1, FLAKY, seed);
      const random = mulberry32(seed);
      const crashAfter = 1 + Math.floor(random() * 19);

      const hub = newHub();
      const first = await sync(open(url, fake, { seed }).session, hub, { crashAfter });
      expect(first).toHaveLength(crashAfter * 100);
      const saved: StreamState | null = structuredClone(hub.state);
      expect(saved).toEqual({ cursor: expect.any(String), startTime: 0 });

      // A new worker, a new session, from the saved state only.
      const rest = await sync(open(url, fake, { seed: seed + 1 }).session, hub);
      expect(rest).toHaveLength(2000 - crashAfter * 100);
      expect([...hub.writes.values()].every((n) => n === 1)).toBe(true);
      expect(projected(hub)).toEqual(truth(fake));

      const uninterrupted = newHub();
      await sync(open(url, fake).session, uninterrupted);
      expect(projected(hub)).toEqual(projected(uninterrupted));
    },
  );

  it('reads only changes from the end-of-stream cursor, and loses nothing changed during a sync', async () => {
    const [fake, url] = await fakeZendesk(1000);
    const { session } = open(url, fake);
    const hub = newHub();
    const full = await sync(session, hub);
    expect(full).toHaveLength(1000);
    expect(hub.state?.cursor).toEqual(expect.any(String));

    // Between syncs: three changed, one deleted, one added.
    fake.modifyTicket(5, { status: 'solved', customFields: { [fake.routingFieldId]: 'billing' } });
    fake.modifyTicket(600, { tags: ['vip'] });
    fake.modifyTicket(999, { subject: 'renamed' });
    fake.deleteTicket(42);
    const added = fake.addTicket('new one');
    const second = await sync(session, hub);
    expect(second.map((r) => r.externalId).sort()).toEqual(
      ['42', '5', '600', '999', String(added.id)].sort(),
    );
    expect(hub.records.get('42')?.status).toBe('deleted');
    expect(hub.records.get('5')).toMatchObject({ status: 'solved', routing: 'billing' });
    expect(projected(hub)).toEqual(truth(fake));

    // During a sync: tickets already read, not yet read, and new ones change while pages are fetched.
    const order = [...hub.records.values()].sort(
      (a, b) => a.updatedAt.getTime() - b.updatedAt.getTime() || Number(a.externalId) - Number(b.externalId),
    );
    fake.modifyTicket(Number(order[0].externalId), { subject: 'before the sync' });
    const restart = newHub();
    await sync(session, restart, {
      onPage: (page) => {
        if (page === 2) {
          fake.modifyTicket(Number(order[0].externalId), { subject: 'changed after it was read' });
          fake.modifyTicket(Number(order[900].externalId), { status: 'pending', tags: ['moved'] });
          fake.addTicket('created mid-sync');
        }
        if (page === 5) fake.deleteTicket(Number(order[1].externalId));
      },
    });
    expect(projected(restart)).toEqual(truth(fake));
    expect(restart.records.get(order[0].externalId)?.subject).toBe('changed after it was read');

    // Nothing changed since: the next sync reads nothing and keeps its cursor.
    const cursor = restart.state?.cursor;
    expect(await sync(session, restart)).toHaveLength(0);
    expect(restart.state).toEqual({ cursor, startTime: 0 });
  });

  it('starts the first export at startTime', async () => {
    const [fake, url] = await fakeZendesk(300);
    const cut = fake.tickets()[150].updatedAt;
    const hub = newHub();
    await sync(open(url, fake, { config: { startTime: cut } }).session, hub);
    const expected = fake.tickets().filter((t) => t.updatedAt >= cut);
    expect([...hub.records.keys()].sort()).toEqual(expected.map((t) => String(t.id)).sort());
    expect(fake.requests[0].query.start_time).toBe(String(cut));
  });

  it('fails check() PERMANENT on a bad or revoked token, without leaking credentials', async () => {
    const [fake, url] = await fakeZendesk(10);
    const credentials = (token: string) => Buffer.from(`${fake.email}/token:${token}`).toString('base64');

    await expect(open(url, fake).session.check()).resolves.toBeUndefined();

    const wrong = 'wrong-token-abcdef';
    const bad = await rejection(open(url, fake, { token: wrong }).session.check());
    expect(bad.kind).toBe('PERMANENT');
    expect(bad.details.status).toBe(401);
    expect(bad.message).toBe(
      "Zendesk check credentials answered 401: Couldn't authenticate you; check the email and API token",
    );
    for (const secret of [wrong, credentials(wrong), 'Basic', 'authorization'])
      expect(bad.message.toLowerCase()).not.toContain(secret.toLowerCase());

    const { session } = open(url, fake);
    fake.revokeToken();
    const revoked = await rejection(session.check());
    expect(revoked.kind).toBe('PERMANENT');
    expect(revoked.message).toContain("Couldn't authenticate you");
    expect(revoked.message).not.toContain(fake.token);
    expect(revoked.message).not.toContain(credentials(fake.token));
    const reading = await rejection(sync(session, newHub()));
    expect(reading).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
    // One attempt each: a refused credential is not retried.
    expect(fake.requests.filter((r) => !r.authorized)).toHaveLength(3);
  });

  // Only end_of_stream ends the export: a page shorter than per_page with an after_cursor is not the end.
  it('reads every ticket when the export serves short pages', async () => {
    const [fake, url] = await fakeZendesk(57);
    fake.maxPerPage = 3;
    const hub = newHub();
    const read = await sync(open(url, fake).session, hub);
    expect(read).toHaveLength(57);
    expect(projected(hub)).toEqual(truth(fake));
    expect(fake.requests.filter((r) => r.path.includes('/incremental/')).length).toBe(19);
  });

  // A gateway that echoes the credentials it got, in every spelling, must not put them into messages.
  it('keeps every spelling of the token out of a 401 that echoes it', async () => {
    const token = 'zd/To"ken+with space\\and=0123456789';
    const fake = new FakeZendeskServer({ tickets: 3, token: 'the-real-token-0123456789' });
    fakes.push(fake);
    const url = await fake.start();
    fake.echoCredentials = true;
    const basic = `${fake.email}/token:${token}`;
    const error = await rejection(open(url, fake, { token }).session.check());
    expect(error).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
    expect(error.message).toContain("Couldn't authenticate you");
    for (const spelling of [
      token,
      encodeURIComponent(token),
      JSON.stringify(token).slice(1, -1),
      Buffer.from(token).toString('base64'),
      Buffer.from(basic).toString('base64'),
      'To"ken',
      'and=0123456789',
    ])
      expect(error.message).not.toContain(spelling);
  });

  it('fails PERMANENT on 403, and TEMPORARY once 5xx outlast the retries', async () => {
    const [fake, url] = await fakeZendesk(10);
    fake.faults.next({
      kind: 'status',
      status: 403,
      body: { error: { title: 'Forbidden', message: 'You do not have access to this page.' } },
    });
    const forbidden = await rejection(open(url, fake).session.check());
    expect(forbidden.kind).toBe('PERMANENT');
    expect(forbidden.message).toContain('Forbidden; You do not have access to this page.');

    fake.faults.next(...Array.from({ length: 13 }, (): Fault => ({ kind: 'status', status: 503 })));
    const down = await rejection(open(url, fake).session.check());
    expect(down).toMatchObject({ kind: 'TEMPORARY', details: { status: 503 } });
  });

  it('createTicket sets the routing and request-key fields; a retry with the same key returns the same ticket', async () => {
    const [fake, url] = await fakeZendesk(10);
    const { session } = open(url, fake);
    const input = {
      subject: 'Drift alert on churn-model',
      comment: 'PSI 0.31 on tenure',
      priority: 'high',
      tags: ['nerve', 'alert'],
      routing: 'ml-ops',
      requestKey: 'req-abc',
    };

    const created = await session.act('createTicket', input, 'alert-7');
    expect(created.stream).toBe('tickets');
    const ticket = fake.ticket(Number(created.externalId));
    expect(ticket).toMatchObject({
      subject: input.subject,
      description: input.comment,
      priority: 'high',
      tags: ['nerve', 'alert'],
      customFields: { [fake.routingFieldId]: 'ml-ops', [fake.requestKeyFieldId]: 'req-abc' },
    });
    expect(created.raw).toMatchObject({ id: Number(created.externalId), subject: input.subject });

    const again = await session.act('createTicket', input, 'alert-7');
    expect(again.externalId).toBe(created.externalId);
    expect(fake.tickets()).toHaveLength(11);

    // The reply is lost after Zendesk created the ticket: the retry carries the same key and gets it back.
    fake.loseNextCreateReply = true;
    const lost = await session.act('createTicket', { ...input, subject: 'second alert' }, 'alert-8');
    expect(fake.tickets()).toHaveLength(12);
    const posts = fake.requests.filter((r) => r.method === 'POST');
    expect(posts.slice(-2).map((r) => r.idempotencyKey)).toEqual(['alert-8', 'alert-8']);
    expect(fake.ticket(Number(lost.externalId))?.subject).toBe('second alert');

    // Without a key from the hub, the client still sends one, so its own retries cannot duplicate.
    fake.loseNextCreateReply = true;
    await session.act('createTicket', { subject: 'no key', comment: 'x' }, undefined);
    expect(fake.tickets()).toHaveLength(13);
    const keyless = fake.requests.filter((r) => r.method === 'POST').slice(-2);
    expect(keyless[0].idempotencyKey).toEqual(expect.any(String));
    expect(keyless[1].idempotencyKey).toBe(keyless[0].idempotencyKey);

    const mismatch = await rejection(session.act('createTicket', { ...input, subject: 'other' }, 'alert-7'));
    expect(mismatch.kind).toBe('PERMANENT');
    expect(mismatch.message).toContain('answered 400: IdempotentRequestError');
    expect(fake.tickets()).toHaveLength(13);
  });

  it('createTicket names Zendesk’s validation details on 422', async () => {
    const [fake, url] = await fakeZendesk(1);
    const error = await rejection(
      open(url, fake).session.act('createTicket', { subject: 's', comment: '   ' }, 'k1'),
    );
    expect(error).toMatchObject({ kind: 'PERMANENT', details: { status: 422 } });
    expect(error.message).toBe(
      'Zendesk create ticket answered 422: RecordInvalid; Record validation errors; description: Description: cannot be blank',
    );
  });

  it('updateTicket sets the routing field and status; the change shows up in the next sync', async () => {
    const [fake, url] = await fakeZendesk(20);
    const { session } = open(url, fake);
    const hub = newHub();
    await sync(session, hub);

    const result = await session.act(
      'updateTicket',
      { ticketId: 3, routing: 'tech', status: 'solved', comment: 'routed' },
      undefined,
    );
    expect(result).toMatchObject({ externalId: '3', stream: 'tickets' });
    expect(fake.ticket(3)?.customFields[fake.routingFieldId]).toBe('tech');
    expect(fake.ticket(3)?.status).toBe('solved');
    const put = fake.requests.find((r) => r.method === 'PUT');
    expect(put?.path).toBe('/api/v2/tickets/3.json');

    const changed = await sync(session, hub);
    expect(changed.map((r) => r.externalId)).toEqual(['3']);
    expect(hub.records.get('3')).toMatchObject({ routing: 'tech', status: 'solved' });

    const missing = await rejection(session.act('updateTicket', { ticketId: 999, routing: 'x' }, undefined));
    expect(missing.kind).toBe('PERMANENT');
    expect(missing.message).toContain('Zendesk update ticket 999 answered 404: RecordNotFound');
  });

  it('validateFields names the bad field', async () => {
    const [fake, url] = await fakeZendesk(1);
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as ConnectorError).details.field;
      }
      return undefined;
    };
    const ok = { baseUrl: 'https://acme.zendesk.com', email: 'a@b.c' };
    expect(field(() => validateFields(zendesk.spec.config, { ...ok, pageSize: 0 }, 'config'))).toBe(
      'config.pageSize',
    );
    expect(field(() => validateFields(zendesk.spec.config, { ...ok, pageSize: 1001 }, 'config'))).toBe(
      'config.pageSize',
    );
    expect(field(() => validateFields(zendesk.spec.config, { ...ok, baseUrl: 'acme' }, 'config'))).toBe(
      'config.baseUrl',
    );
    expect(field(() => validateFields(zendesk.spec.config, { baseUrl: ok.baseUrl }, 'config'))).toBe(
      'config.email',
    );
    expect(field(() => validateFields(zendesk.spec.config, { ...ok, startTime: 1.5 }, 'config'))).toBe(
      'config.startTime',
    );
    expect(field(() => validateFields(zendesk.spec.config, { ...ok, routingFieldId: '12' }, 'config'))).toBe(
      'config.routingFieldId',
    );
    expect(field(() => validateFields(zendesk.spec.secrets, {}, 'secrets'))).toBe('secrets.apiToken');
    expect(validateFields(zendesk.spec.config, ok, 'config')).toEqual({
      ...ok,
      startTime: 0,
      pageSize: 1000,
    });

    const { session } = open(url, fake);
    const bad = async (action: string, input: Record<string, unknown>) =>
      (await rejection(session.act(action, input as never, undefined))).details.field;
    expect(await bad('createTicket', { subject: 's', comment: 'c', priority: 'asap' })).toBe(
      'createTicket.priority',
    );
    expect(await bad('createTicket', { comment: 'c' })).toBe('createTicket.subject');
    expect(await bad('updateTicket', { ticketId: 'seven' })).toBe('updateTicket.ticketId');
    expect(await bad('updateTicket', { ticketId: 1, status: 'closed' })).toBe('updateTicket.status');
    expect(await bad('deleteEverything', {})).toBe('action');
    const unconfigured = open(url, fake, { config: { routingFieldId: undefined } }).session;
    const noField = await rejection(
      unconfigured.act('updateTicket', { ticketId: 1, routing: 'x' }, undefined),
    );
    expect(noField.details.field).toBe('updateTicket.routing');
    expect(fake.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });

  it('survives a schema change: unknown fields, wrong types and missing fields', async () => {
    const [fake, url] = await fakeZendesk(300);
    fake.schemaChange = { unknownFields: true, wrongTypes: true, missingFields: true };
    const hub = newHub();
    await sync(open(url, fake).session, hub);
    expect(hub.records.size).toBe(300);
    const stored = fake.tickets()[0];
    const record = hub.records.get(String(stored.id)) as TicketRecord;
    expect(record).toMatchObject({
      status: stored.status,
      subject: null,
      priority: null,
      channel: null,
      assigneeId: null,
      requesterId: null,
      tags: [],
      routing: null,
      replies: null,
      updatedAt: new Date(stored.updatedAt * 1000),
    });
    expect(record.raw.ai_sentiment).toEqual({ label: 'negative', score: 0.91 });
    expect(record).not.toHaveProperty('ai_sentiment');
    // Untouched fields still map.
    const keyed = fake.tickets().find((t) => t.customFields[fake.requestKeyFieldId] !== null) as FakeTicket;
    expect(hub.records.get(String(keyed.id))?.requestKey).toBe(keyed.customFields[fake.requestKeyFieldId]);
  });
});
