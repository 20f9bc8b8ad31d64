import { spawnSync } from 'node:child_process';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';

/** promtool ships with Prometheus (Debian package `prometheus`); CI installs it, a laptop may lack it. */
const promtool = spawnSync('promtool', ['--version']).status === 0;
if (!promtool) console.warn('promtool not found: the exposition lint in metrics.e2e.ts is skipped');

describe('/metrics exposition', () => {
  let hub: TestHub;
  let text: string;
  const scrape = async (): Promise<string> => {
    const res = await fetch(hub.url.replace(/\/graphql$/, '/metrics'), {
      headers: { authorization: `Bearer ${hub.adminKey}` },
    });
    expect(res.status).toBe(200);
    return res.text();
  };
  const value = (exposition: string, series: string): number =>
    Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(exposition)?.[1]);

  beforeAll(async () => {
    hub = await startTestHub({ predictionLogFlushMs: 5 });
    // Every family gets series: a served prediction (labelled counters, latency histograms) and an operation.
    const project = unique('metrics');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: 'Metrics' },
    });
    const model = unique('m');
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project, name: model, task: 'CLASSIFICATION' } },
    );
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 2 }), project);
    await hub.gqlOk('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
      i: { modelId: createModel.id, artifactSha256: sha, featureNames: ['a', 'b'], labels: ['no', 'yes'] },
    });
    const endpoint = unique('ep');
    await hub.gqlOk('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project, name: endpoint, model, version: 1 },
    });
    await hub.gqlOk(
      'mutation($e: String!) { predictBatch(endpoint: $e, inputs: [{ a: 1, b: 2 }, { a: 0, b: 1 }]) { latencyMs } }',
      {
        e: endpoint,
      },
    );
    await hub.services.predictionLog.flush();
    await hub.gqlOk('query MetricsProbe { me { role } }');
    text = await scrape();
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
    expect(value(text, 'nerve_inference_rows_total')).toBeGreaterThanOrEqual(2);
    expect(value(text, 'nerve_prediction_log_written_rows_total')).toBeGreaterThanOrEqual(2);
    // Every counter follows the convention, not only the four above.
    const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]);
    expect(counters.length).toBeGreaterThan(4);
    for (const name of counters) expect(name).toMatch(/_total$/);
  });

  it('reads the same totals on every scrape (a counter collected twice is not counted twice)', async () => {
    const again = await scrape();
    for (const name of ['nerve_inference_batches_total', 'nerve_inference_rows_total'])
      expect(value(again, name)).toBe(value(text, name));
  });

  (promtool ? it : it.skip)('passes promtool check metrics without errors or lint problems', () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});
