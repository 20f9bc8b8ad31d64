import { spawnSync } from 'node:child_process';
import { startTestHub, type TestHub } from '../harness';

/** promtool ships with Prometheus (Debian package `prometheus`); CI installs it, a laptop may lack it. */
const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool) console.warn('promtool not found: the exposition lint in metrics.e2e.ts is skipped');

describe('/metrics exposition', () => {
  let hub: TestHub;
  let text: string;
  beforeAll(async () => {
    hub = await startTestHub();
    // Labelled series exist once something was counted.
    await hub.gqlOk('query MetricsProbe { me { role } }');
    const res = await fetch(hub.url.replace(/\/graphql$/, '/metrics'), {
      headers: { authorization: `Bearer ${hub.adminKey}` },
    });
    expect(res.status).toBe(200);
    text = await res.text();
  });
  afterAll(() => hub.close());

  it('exposes cumulative totals as counters named *_total', () => {
    for (const name of [
      'nerve_inference_batches_total',
      'nerve_inference_rows_total',
      'nerve_inference_batch_failures_total',
      'nerve_prediction_log_written_rows_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} counter`);
      expect(text).toMatch(new RegExp(`^${name} \\d+$`, 'm'));
    }
    // Every counter follows the convention, not only the four above.
    const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]);
    expect(counters.length).toBeGreaterThan(4);
    for (const name of counters) expect(name).toMatch(/_total$/);
  });

  (promtool ? it : it.skip)('passes promtool check metrics without errors or lint problems', () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});
