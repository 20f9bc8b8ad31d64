import { randomUUID } from 'node:crypto';
import type { PredictionRecord } from '../../src/modules/predictions/prediction-log-writer';
import { SlaTracker } from '../../src/modules/monitoring/sla-tracker';
import { startTestHub, unique, type TestHub } from '../harness';

/**
 * The buffered writers (prediction log, SLA minutes) against the real database, given rows the
 * database refuses: a NUL byte in a text column, a malformed uuid. Such a row must cost only itself.
 */
describe('buffered writers isolate a poisonous row', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub();
  });
  afterAll(() => hub.close());

  const ids = { projectId: randomUUID(), endpointId: randomUUID(), modelVersionId: randomUUID() };
  const row = (requestKey: string): PredictionRecord => ({
    ...ids,
    requestKey,
    features: { tenure: 3, note: 'plain' },
    outputs: { label: 'stays' },
    latencyMs: 1.5,
    error: null,
    shadow: false,
    createdAt: new Date('2026-12-01T10:00:00Z'),
  });
  const logged = async (keys: string[]): Promise<string[]> =>
    (
      (await hub.db.query('SELECT request_key FROM prediction_log WHERE request_key = ANY($1)', [
        keys,
      ])) as Array<{ request_key: string }>
    )
      .map((r) => r.request_key)
      .sort();

  it('writes every other row of the batch, drops and counts the poisonous one, and writes later rows', async () => {
    const log = hub.services.predictionLog;
    const droppedBefore = log.dropped;
    const good = Array.from({ length: 9 }, () => unique('req'));
    // In the middle of one batch: the whole batch fails on it (`unsupported Unicode escape sequence`).
    const prefix = unique('req');
    const poisonous = `${prefix}\u0000tail`;
    const batch = [...good.slice(0, 4), poisonous, ...good.slice(4)].map(row);
    await log.append(...batch);
    await log.flush();

    expect(await logged(good)).toEqual([...good].sort());
    const [{ n }] = (await hub.db.query(
      "SELECT count(*)::int AS n FROM prediction_log WHERE request_key LIKE $1 || '%'",
      [prefix],
    )) as Array<{ n: number }>;
    expect(n).toBe(0);
    expect(log.dropped - droppedBefore).toBe(1);
    expect(log.buffered).toBe(0);

    // The buffer is not stuck behind it: what comes next is written.
    const later = [unique('req'), unique('req')];
    await log.append(...later.map(row));
    await log.flush();
    expect(await logged(later)).toEqual([...later].sort());
    expect(log.dropped - droppedBefore).toBe(1);

    // Operators see it.
    const metrics = await fetch(hub.url.replace(/\/graphql$/, '/metrics'), {
      headers: { authorization: `Bearer ${hub.adminKey}` },
    });
    const text = await metrics.text();
    const dropped = /^nerve_prediction_log_dropped_rows_total (\d+)$/m.exec(text);
    expect(Number(dropped?.[1])).toBe(log.dropped);
    expect(log.dropped).toBeGreaterThanOrEqual(1);
  });

  it('writes the SLA minutes of every other endpoint when one minute is refused', async () => {
    const tracker = new SlaTracker({
      db: hub.db,
      now: () => new Date('2026-12-01T10:00:30Z'),
      logger: hub.services.logger,
    });
    const endpoints = [randomUUID(), 'not-a-uuid', randomUUID()];
    for (const endpointId of endpoints) tracker.record(endpointId, ids.modelVersionId, 12, false);
    await tracker.flush();

    const rows = (await hub.db.query(
      'SELECT endpoint_id, requests FROM endpoint_stats_minute WHERE replica = $1 ORDER BY endpoint_id',
      [tracker.replica],
    )) as Array<{ endpoint_id: string; requests: number }>;
    expect(rows).toEqual(
      [endpoints[0], endpoints[2]].sort().map((endpoint_id) => ({ endpoint_id, requests: 1 })),
    );
    expect(tracker.dropped).toBe(1);

    // Later minutes of the good endpoints are still written.
    tracker.record(endpoints[0], ids.modelVersionId, 14, false);
    await tracker.flush();
    const [{ requests }] = (await hub.db.query(
      'SELECT requests FROM endpoint_stats_minute WHERE replica = $1 AND endpoint_id = $2',
      [tracker.replica, endpoints[0]],
    )) as Array<{ requests: number }>;
    expect(requests).toBe(2);
  });
});
