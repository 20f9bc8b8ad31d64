import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceOptions } from '../../src/server/services';
import { FakeZendeskServer } from '../fakes/zendesk-server';
import { startTestHub, unique, type TestHub } from '../harness';

const CREATE = `mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id schedule enabled } }`;
const UPDATE = `mutation($id: ID!, $i: UpdateConnectorInput!) { updateConnector(id: $id, input: $i) { id schedule enabled } }`;
const EVERY_SECOND = '* * * * * *';
const BAD_TOKEN = 'wrong-token-0123456789';

interface RunRow {
  id: string;
  status: string;
  error: string | null;
  error_kind: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/**
 * Sits between the hubs and the fake Zendesk, slowing every request a little (so a full export spans
 * several cron ticks) and noting, per credential, the most requests it ever had in flight at once. One
 * sync sends its requests one after another, so two in flight for one credential are two syncs at once.
 */
class TrackingProxy {
  readonly maxInFlight = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private readonly server: http.Server;

  constructor(
    private readonly target: string,
    private readonly delayMs: number,
  ) {
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const who = req.headers.authorization ?? 'anonymous';
    const now = (this.inFlight.get(who) ?? 0) + 1;
    this.inFlight.set(who, now);
    this.maxInFlight.set(who, Math.max(now, this.maxInFlight.get(who) ?? 0));
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.inFlight.set(who, this.inFlight.get(who)! - 1);
    };
    res.on('close', finish);
    setTimeout(() => {
      const upstream = http.request(
        `${this.target}${req.url ?? '/'}`,
        { method: req.method, headers: req.headers },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, this.delayMs);
  }
}

describe('connector schedules on two workers', () => {
  const HTTP: ServiceOptions = { connectorHttp: { timeoutMs: 300, backoffMs: 1, maxBackoffMs: 5 } };
  let a: TestHub;
  let b: TestHub | undefined;
  let fake: FakeZendeskServer;
  let proxy: TrackingProxy;
  let proxyUrl: string;
  let project: { id: string; slug: string };

  /** Starts a worker running connector schedules only: the shared jobs (rollouts, monitoring) would
   * otherwise act on other suites' data in the shared test database. */
  async function worker(): Promise<TestHub> {
    const hub = await startTestHub({ schedulerEnabled: true }, { services: HTTP });
    await hub.services.scheduler.stop();
    return hub;
  }

  const scheduleRuns = async (connectorId: string): Promise<RunRow[]> =>
    (await a.db.query(
      `SELECT id, status, error, error_kind, started_at, finished_at FROM sync_run
        WHERE connector_id = $1 AND trigger = 'SCHEDULE' ORDER BY started_at, id`,
      [connectorId],
    )) as RunRow[];

  /** Polls the sync_run table until `done` holds for the connector's SCHEDULE runs. */
  async function until(
    connectorId: string,
    done: (runs: RunRow[]) => boolean,
    timeoutMs = 20_000,
  ): Promise<RunRow[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const runs = await scheduleRuns(connectorId);
      if (done(runs)) return runs;
      if (Date.now() > deadline)
        throw new Error(`schedule runs of ${connectorId} never got there: ${JSON.stringify(runs)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const finishedAfter = (runs: RunRow[], after: Date): RunRow[] =>
    runs.filter((r) => r.finished_at !== null && r.started_at > after);

  /** Every run finished before the next one of the same connector started. */
  function expectNoOverlap(runs: RunRow[]): void {
    for (let i = 1; i < runs.length; i++) {
      const previous = runs[i - 1];
      expect(previous.finished_at).not.toBeNull();
      expect(previous.finished_at!.getTime()).toBeLessThanOrEqual(runs[i].started_at.getTime());
    }
  }

  async function expectOnePerSecond(connectorId: string): Promise<void> {
    const crowded = (await a.db.query(
      `SELECT date_trunc('second', started_at) AS second, count(*)::int AS n FROM sync_run
        WHERE connector_id = $1 AND trigger = 'SCHEDULE' GROUP BY 1 HAVING count(*) > 1`,
      [connectorId],
    )) as Array<{ second: Date; n: number }>;
    expect(crowded).toEqual([]);
  }

  const workers = (): TestHub[] => (b ? [a, b] : [a]);

  async function refreshBoth(): Promise<void> {
    for (const hub of workers()) await hub.services.connectorSchedules.refresh();
  }

  beforeAll(async () => {
    fake = new FakeZendeskServer({ tickets: 300, seed: 3 });
    proxy = new TrackingProxy(await fake.start(), 80);
    proxyUrl = await proxy.start();
    a = await worker();
    project = (
      await a.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('sched'), name: 'Schedules' } },
      )
    ).createProject;
  });

  afterAll(async () => {
    // Schedules stop (and their syncs end) before the vendor goes away.
    await b?.services.connectorSchedules.stop();
    await a?.services.connectorSchedules.stop();
    await b?.close();
    await a?.close();
    await proxy?.close();
    await fake?.close();
  });

  /** A good connector and one with a wrong token, both on the every-second schedule. */
  async function pair(): Promise<{ good: string; bad: string }> {
    const input = (token: string) => ({
      project: project.slug,
      name: unique('zendesk'),
      kind: 'zendesk',
      // Pages of 20: the first export is 15 slowed requests, longer than a tick.
      config: {
        baseUrl: proxyUrl,
        email: fake.email,
        pageSize: 20,
        routingFieldId: fake.routingFieldId,
        requestKeyFieldId: fake.requestKeyFieldId,
      },
      secrets: { apiToken: token },
      schedule: EVERY_SECOND,
    });
    const create = async (token: string): Promise<string> =>
      (await a.gqlOk<{ createConnector: { id: string } }>(CREATE, { i: input(token) })).createConnector.id;
    return { good: await create(fake.token), bad: await create(BAD_TOKEN) };
  }

  it('takes each tick once across workers, never overlaps a sync, and lets a bad connector fail alone', async () => {
    const { good, bad } = await pair();
    const both = new Map([
      [good, EVERY_SECOND],
      [bad, EVERY_SECOND],
    ]);
    // Hub A is told of the change and reschedules in the background; a refresh queues behind that one.
    await a.services.connectorSchedules.refresh();
    // Other suites share the database and may have scheduled connectors of their own.
    const ours = (hub: TestHub) =>
      new Map([...hub.services.connectorSchedules.scheduled()].filter(([id]) => both.has(id)));
    expect(ours(a)).toEqual(both);
    // Hub B reads the schedules when it starts.
    b = await worker();
    for (const hub of workers()) expect(ours(hub)).toEqual(both);
    const ticks = workers().map((hub) => jest.spyOn(hub.services.connectors, 'syncScheduled'));
    const bothUp = new Date();

    const goodRuns = await until(good, (runs) => finishedAfter(runs, bothUp).length >= 3);
    await until(bad, (runs) => finishedAfter(runs, bothUp).length >= 3);
    // Let the runs in flight end, so every interval is closed.
    const settled = await until(good, (runs) => runs.every((r) => r.finished_at !== null));
    const badRuns = await until(bad, (runs) => runs.every((r) => r.finished_at !== null));

    // Every worker fired ticks for both connectors.
    for (const spy of ticks) expect(new Set(spy.mock.calls.map(([id]) => id))).toEqual(new Set([good, bad]));

    for (const runs of [settled, badRuns]) expectNoOverlap(runs);
    await expectOnePerSecond(good);
    await expectOnePerSecond(bad);

    expect(goodRuns.length).toBeGreaterThanOrEqual(3);
    for (const run of settled) expect(run).toMatchObject({ status: 'SUCCEEDED', error: null });
    for (const run of badRuns) {
      expect(run).toMatchObject({ status: 'FAILED', error_kind: 'PERMANENT' });
      expect(run.error).toMatch(/401/);
      expect(run.error).not.toContain(BAD_TOKEN);
    }
    const [{ n }] = (await a.db.query('SELECT count(*)::int AS n FROM ticket WHERE connector_id = $1', [
      good,
    ])) as Array<{ n: number }>;
    expect(n).toBe(300);

    // The vendor's view: one full export from the start, then only cursors; never two requests of
    // one connector in flight together.
    const fullExports = fake.requests.filter(
      (r) => r.authorized && r.path.endsWith('/cursor.json') && r.query.start_time !== undefined,
    );
    expect(fullExports).toHaveLength(1);
    expect(fake.requests.filter((r) => r.authorized).length).toBeGreaterThanOrEqual(15 + 2);
    expect(fake.requests.some((r) => !r.authorized)).toBe(true);
    expect(proxy.maxInFlight.size).toBe(2);
    for (const most of proxy.maxInFlight.values()) expect(most).toBe(1);

    for (const id of [good, bad]) await a.gqlOk(UPDATE, { id, i: { schedule: '' } });
    await refreshBoth();
  });

  it('stops scheduling a connector whose schedule is removed or that is disabled', async () => {
    const { good, bad } = await pair();
    b ??= await worker();
    await refreshBoth();
    const scheduledOn = (hub: TestHub, id: string): boolean =>
      hub.services.connectorSchedules.scheduled().has(id);
    for (const hub of workers()) for (const id of [good, bad]) expect(scheduledOn(hub, id)).toBe(true);
    const latest = async (id: string): Promise<Date> =>
      (await scheduleRuns(id)).at(-1)?.started_at ?? new Date(0);
    await until(good, (runs) => runs.some((r) => r.status === 'SUCCEEDED'));

    // Removing the good one's schedule: the bad one goes on ticking, the good one stops.
    const removed = await a.gqlOk<{ updateConnector: { schedule: string | null; enabled: boolean } }>(
      UPDATE,
      {
        id: good,
        i: { schedule: '' },
      },
    );
    expect(removed.updateConnector).toEqual({ id: good, schedule: null, enabled: true });
    await refreshBoth();
    for (const hub of workers())
      expect([scheduledOn(hub, good), scheduledOn(hub, bad)]).toEqual([false, true]);
    // A tick that fired just before the refresh may still start a run: wait out one more tick first.
    const removedAt = await latest(bad);
    await until(bad, (runs) => runs.some((r) => r.started_at > removedAt));
    const goodCutoff = await latest(good);
    const badCutoff = await latest(bad);
    await until(bad, (runs) => runs.filter((r) => r.started_at > badCutoff).length >= 3);
    expect(await latest(good)).toEqual(goodCutoff);

    // Disabling the bad one and scheduling the good one again: now only the good one ticks.
    const disabled = await a.gqlOk<{ updateConnector: { schedule: string | null; enabled: boolean } }>(
      UPDATE,
      {
        id: bad,
        i: { enabled: false },
      },
    );
    expect(disabled.updateConnector).toEqual({ id: bad, schedule: EVERY_SECOND, enabled: false });
    await a.gqlOk(UPDATE, { id: good, i: { schedule: EVERY_SECOND } });
    await refreshBoth();
    for (const hub of workers())
      expect([scheduledOn(hub, good), scheduledOn(hub, bad)]).toEqual([true, false]);
    const disabledAt = await latest(good);
    await until(good, (runs) => runs.some((r) => r.started_at > disabledAt));
    const badStopped = await latest(bad);
    const goodAgain = await latest(good);
    await until(good, (runs) => runs.filter((r) => r.started_at > goodAgain).length >= 3);
    expect(await latest(bad)).toEqual(badStopped);

    await a.gqlOk(UPDATE, { id: good, i: { schedule: '' } });
    await refreshBoth();
    for (const id of [good, bad]) {
      const runs = await until(id, (all) => all.every((r) => r.finished_at !== null));
      expectNoOverlap(runs);
      await expectOnePerSecond(id);
    }
  });
});
