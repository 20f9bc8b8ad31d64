import fs from 'node:fs';
import { filterIterator } from '../../src/common/filter-iterator';
import { subscribeTo } from '../../src/events/domain';
import type { DomainEvent } from '../../src/events/catalogue';
import { DurableConsumer } from '../../src/platform/outbox/durable-consumer';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { startTestHub, unique, type GqlResult, type TestHub } from '../harness';
import { startHubProcess } from '../support/hub-process';

const KPIS = ['first', 'second', 'third', 'fourth'];
const MUTATIONS = 1_000;
const ROLLED_BACK = 100;

/** Collects what a live subscription receives until `count` events arrived (or the time is up). */
async function collect<T>(events: AsyncIterableIterator<T>, count: number, ms = 30_000): Promise<T[]> {
  const got: T[] = [];
  const deadline = Date.now() + ms;
  while (got.length < count && Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([
      events.next(),
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), deadline - Date.now());
      }),
    ]);
    clearTimeout(timer);
    if (next === null || next.done) break;
    got.push(next.value);
  }
  await events.return?.();
  return got;
}

describe('the transactional outbox', () => {
  let hub: TestHub;
  let project: { id: string; slug: string };
  let key: string;

  beforeAll(async () => {
    hub = await startTestHub();
    key = await hub.key(Role.ADMIN);
    project = (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('outbox'), name: 'Outbox' } },
      )
    ).createProject;
    for (const k of KPIS) {
      await hub.gqlOk('mutation($i: DefineKpiInput!) { defineKpi(input: $i) { id } }', {
        i: {
          project: project.slug,
          key: `${k}_${project.slug.replace(/-/g, '_')}`.slice(0, 60),
          name: k,
          unit: 'n',
        },
      });
    }
  });

  afterAll(() => hub.close());

  /**
   * One mutation as a careful client sends it: a hub short of database connections under this burst
   * may answer UNAVAILABLE (retryable), and the retry carries the same idempotency key, so it never
   * records (or announces) the points twice.
   */
  async function recordOnce(input: Record<string, unknown>): Promise<GqlResult<unknown>> {
    for (let attempt = 0; ; attempt++) {
      const res = await hub.gql(
        'mutation($i: RecordKpiPointsInput!) { recordKpiPoints(input: $i) { recorded } }',
        { i: input },
        key,
      );
      const unavailable = res.errors?.some((e) => e.extensions?.code === 'UNAVAILABLE');
      if (!unavailable || attempt === 20) return res;
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 800));
    }
  }

  const kpiKey = (k: string): string => `${k}_${project.slug.replace(/-/g, '_')}`.slice(0, 60);

  it(`1,000 concurrent mutations make exactly 1,000 events, delivered in commit order; ${ROLLED_BACK} rolled-back changes make none`, async () => {
    const head = await hub.services.outbox.head();
    // Read while the burst runs: a subscription holds at most 1,000 undelivered events (the bus drops
    // the oldest beyond that), and other suites' hubs write events to the same outbox meanwhile.
    const live = collect(
      filterIterator(
        subscribeTo(hub.services.events, 'kpi-points.recorded'),
        (e) => e.projectId === project.id,
      ),
      MUTATIONS,
      200_000,
    );
    const results = await Promise.all([
      ...Array.from({ length: MUTATIONS }, (_, i) =>
        recordOnce({
          project: project.slug,
          idempotencyKey: `outbox-${project.slug}-${i}`,
          points: [
            {
              kpi: kpiKey(KPIS[i % KPIS.length]),
              time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
              value: i,
            },
          ],
        }),
      ),
      // Changes that emit an event and then fail: their transactions roll back with their events.
      ...Array.from({ length: ROLLED_BACK }, (_, i) =>
        hub.services.work
          .run(hub.system, async (tx) => {
            tx.emit({
              type: 'kpi-points.recorded',
              stream: `kpi:rolled-back`,
              projectId: project.id,
              payload: {
                projectId: project.id,
                kpiId: project.id,
                kpi: `rolled_back_${i}`,
                points: 1,
                from: '',
                to: '',
              },
            });
            await tx.manager.query('SELECT 1');
            throw new Error('the change failed after emitting');
          })
          .catch((error: Error) => error.message),
      ),
    ]);
    const failures = results.filter((r) => typeof r !== 'string' && r.errors);
    // Each mutation was acknowledged exactly once (retries of an UNAVAILABLE answer replayed its key).
    expect(failures).toEqual([]);
    expect(results.filter((r) => r === 'the change failed after emitting')).toHaveLength(ROLLED_BACK);

    // In the outbox: exactly one event per committed mutation, none of the rolled-back ones.
    const stored: Array<DomainEvent<'kpi-points.recorded'>> = [];
    for (let after = head; ;) {
      const page = await hub.services.outbox.read(after, {
        types: ['kpi-points.recorded'],
        projectIds: [project.id],
      });
      stored.push(...page.flatMap((e) => (e.type === 'kpi-points.recorded' ? [e] : [])));
      if (page.length < 500) break;
      after = page[page.length - 1].position;
    }
    expect(stored).toHaveLength(MUTATIONS);
    expect(stored.filter((e) => e.stream === 'kpi:rolled-back')).toEqual([]);
    expect(new Set(stored.map((e) => e.requestId)).size).toBe(MUTATIONS);

    // Commit order: the audit chain's sequence is drawn under a lock held to commit, so it orders the
    // project's changes as they committed; positions must follow it exactly.
    const audit = (await hub.db.query(
      `SELECT request_id, seq FROM audit_event WHERE chain = $1 AND action = 'recordKpiPoints'`,
      [project.id],
    )) as Array<{ request_id: string; seq: number }>;
    const seqOf = new Map(audit.map((a) => [a.request_id, a.seq]));
    const seqs = stored.map((e) => seqOf.get(e.requestId)!);
    expect(seqs.every((s) => typeof s === 'number')).toBe(true);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // Per stream, too (each KPI is one stream).
    for (const k of KPIS) {
      const stream = stored.filter((e) => e.payload.kpi === kpiKey(k));
      expect(stream.length).toBe(MUTATIONS / KPIS.length);
      const positions = stream.map((e) => BigInt(e.position));
      expect(positions.every((p, i) => i === 0 || p > positions[i - 1])).toBe(true);
    }

    // Delivered to a live subscriber: the same events, in the same order.
    const delivered = await live;
    expect(delivered.map((e) => e.position)).toEqual(stored.map((e) => e.position));
  }, 240_000);

  it('a process killed between its commit and its publish loses no event: the others read it from the outbox', async () => {
    const consumer = unique('consumer');
    const seen: DomainEvent[] = [];
    const durable = new DurableConsumer(hub.services, {
      name: consumer,
      handle: async (events) => {
        seen.push(...events);
      },
      types: ['project.created'],
      pollMs: 20,
    });
    // Start the durable consumer at the head (a new one would read the whole outbox).
    await hub.db.query('INSERT INTO outbox_consumer (name, position, updated_at) VALUES ($1, $2, now())', [
      consumer,
      await hub.services.outbox.head(),
    ]);
    const slug = unique('killed');
    // Its own project only: other suites' hubs create projects in the same outbox meanwhile.
    const live = filterIterator(
      subscribeTo(hub.services.events, 'project.created'),
      (e) => e.payload.slug === slug,
    );
    // The other process kills itself right after its first commit that wrote events.
    const other = await startHubProcess({ NERVE_FAULT_KILL_AFTER_COMMITS: '1' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      other.child.once('exit', (_code, signal) => resolve(signal)),
    );
    try {
      const answer = await fetch(other.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          query: 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }',
          variables: { i: { slug, name: 'Committed, then killed' } },
        }),
      }).then(
        () => 'answered',
        () => 'no answer',
      );
      expect(answer).toBe('no answer');
      expect(await exited).toBe('SIGKILL');
      // Committed: the project is there.
      const [row] = (await hub.db.query('SELECT id FROM project WHERE slug = $1', [slug])) as Array<{
        id: string;
      }>;
      expect(row).toBeDefined();
      // Its event reaches this process's subscribers and the durable consumer all the same.
      const [event] = await collect(live, 1, 10_000);
      expect(event?.payload).toEqual({ projectId: row.id, slug, name: 'Committed, then killed' });
      durable.start();
      const deadline = Date.now() + 10_000;
      while (
        !seen.some((e) => e.type === 'project.created' && e.projectId === row.id) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(seen.filter((e) => e.projectId === row.id)).toHaveLength(1);
    } finally {
      await durable.close();
      other.child.kill('SIGKILL');
      fs.rmSync(other.dataDir, { recursive: true, force: true });
    }
  });

  it('a durable consumer resumes from its stored position after a failed batch (at least once, nothing skipped)', async () => {
    const consumer = unique('retrying');
    await hub.db.query('INSERT INTO outbox_consumer (name, position, updated_at) VALUES ($1, $2, now())', [
      consumer,
      await hub.services.outbox.head(),
    ]);
    const slugs = [unique('a'), unique('b'), unique('c')];
    for (const slug of slugs) {
      await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
        i: { slug, name: slug },
      });
    }
    let fail = true;
    const handled: string[] = [];
    const durable = new DurableConsumer(hub.services, {
      name: consumer,
      handle: async (events) => {
        if (fail) {
          fail = false;
          throw new Error('the consumer failed once');
        }
        for (const e of events) if (e.type === 'project.created') handled.push(e.payload.slug);
      },
      types: ['project.created'],
      batch: 2,
    });
    await expect(durable.step()).rejects.toThrow('the consumer failed once');
    while (await durable.step());
    expect(handled.filter((s) => slugs.includes(s))).toEqual(slugs);
    const [{ position }] = (await hub.db.query(
      'SELECT position::text AS position FROM outbox_consumer WHERE name = $1',
      [consumer],
    )) as Array<{ position: string }>;
    expect(BigInt(position)).toBeGreaterThan(0n);
  });
});
