import net from 'node:net';
import { preprocessingHash } from '../../src/modules/models/model-input';
import { NerveApiError, registerTrainedModel } from '../../src/training/register-model';
import { BASELINE_TICKET_ROUTER, trainTicketRouter } from '../../src/training/train-ticket-router';
import { sha256Hex } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';

const CREATE_PROJECT = 'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }';
const VERSION = `query($id: ID!) {
  modelVersion(id: $id) {
    id version status validation artifactSha256 featureNames labels preprocessing preprocessingHash
    metrics modelCard runId datasetVersionId signature model { id name task }
  }
}`;
const RUN = `query($id: ID!) {
  run(id: $id) {
    status kind params metricKeys error
    inputs { id }
    outputs { id }
    metrics(key: "val_accuracy", first: 100) { edges { node { step value } } }
  }
}`;
const DATASET_VERSION = `query($id: ID!) {
  datasetVersion(id: $id) { version sha256 rowCount uri dataset { id name } }
}`;
const LINEAGE = `query($id: ID!) { lineage(modelVersionId: $id) { nodes { id kind } edges { from to relation } } }`;
const RUNS = `query($p: String!) { runs(project: $p, first: 50) { edges { node { id status error } } } }`;

interface VersionView {
  id: string;
  version: number;
  status: string;
  validation: { samples: number; passed: number; failed: number } | null;
  artifactSha256: string;
  featureNames: string[];
  labels: string[];
  preprocessing: Record<string, unknown>;
  preprocessingHash: string;
  metrics: Record<string, number>;
  modelCard: Record<string, unknown>;
  runId: string;
  datasetVersionId: string;
  signature: { inputs: Array<{ name: string; shape: unknown[] }> };
  model: { id: string; name: string; task: string };
}

describe('training pipeline registration', () => {
  let hub: TestHub;
  let project: string;
  const small = { rows: 800, epochs: 4, textBuckets: 128, seed: 5 };
  const trained = trainTicketRouter(small);

  beforeAll(async () => {
    hub = await startTestHub();
    const res = await hub.gql<{ createProject: { slug: string } }>(CREATE_PROJECT, {
      i: { slug: unique('train'), name: 'Training' },
    });
    project = res.data!.createProject.slug;
  });
  afterAll(() => hub.close());

  const api = () => ({ url: hub.url, key: hub.adminKey });
  const version = async (id: string) =>
    (await hub.gql<{ modelVersion: VersionView }>(VERSION, { id })).data!.modelVersion;

  it('registers dataset version, run and a validated model version with full lineage', async () => {
    const ids = await registerTrainedModel(api(), trained, { project });
    expect(ids).toMatchObject({ version: 1, datasetVersion: 1, status: 'VALIDATED' });

    const v = await version(ids.modelVersionId);
    expect(v).toMatchObject({
      version: 1,
      status: 'VALIDATED',
      validation: { samples: 8, passed: 8, failed: 0 },
      artifactSha256: sha256Hex(trained.onnx),
      featureNames: trained.featureNames,
      labels: ['billing', 'technical', 'account', 'shipping', 'sales'],
      preprocessingHash: preprocessingHash(trained.preprocessing as unknown as Record<string, unknown>),
      metrics: trained.metrics,
      runId: ids.runId,
      datasetVersionId: ids.datasetVersionId,
      model: { id: ids.modelId, name: 'ticket-router', task: 'CLASSIFICATION' },
    });
    expect(v.preprocessing).toEqual(JSON.parse(JSON.stringify(trained.preprocessing)));
    expect(v.signature.inputs).toEqual([
      { name: 'features', type: 'float32', shape: [null, 128 / 4 + 128 + 10] },
    ]);
    expect(v.modelCard).toMatchObject({ labels: v.labels, training: { options: { seed: 5, rows: 800 } } });

    const run = (
      await hub.gql<{
        run: {
          status: string;
          kind: string;
          params: Record<string, unknown>;
          metricKeys: string[];
          inputs: Array<{ id: string }>;
          outputs: Array<{ id: string }>;
          metrics: { edges: Array<{ node: { step: number; value: number } }> };
        };
      }>(RUN, { id: ids.runId })
    ).data!.run;
    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      kind: 'TRAINING',
      params: { seed: 5, rows: 800, epochs: 4, textBuckets: 128, ngrams: [1, 2] },
      inputs: [{ id: ids.datasetVersionId }],
      outputs: [{ id: ids.modelVersionId }],
    });
    expect(run.metricKeys).toEqual(
      expect.arrayContaining(['accuracy', 'macro_f1', 'f1_sales', 'train_loss', 'val_accuracy', 'val_loss']),
    );
    expect(run.metrics.edges.map((e) => e.node)).toEqual(
      trained.history.map((h) => ({ step: h.epoch, value: expect.closeTo(h.valAccuracy!, 9) })),
    );

    const dv = (
      await hub.gql<{
        datasetVersion: {
          version: number;
          sha256: string;
          rowCount: number;
          uri: string;
          dataset: { name: string };
        };
      }>(DATASET_VERSION, { id: ids.datasetVersionId })
    ).data!.datasetVersion;
    expect(dv).toMatchObject({
      version: 1,
      sha256: sha256Hex(Buffer.from(trained.dataset.csv)),
      rowCount: 800,
      dataset: { name: 'support-tickets' },
    });
    expect(dv.uri).toMatch(/\/artifacts\/sha256\/[0-9a-f]{64}$/);

    const lineage = (
      await hub.gql<{ lineage: { edges: Array<{ from: string; to: string; relation: string }> } }>(LINEAGE, {
        id: ids.modelVersionId,
      })
    ).data!.lineage;
    expect(lineage.edges).toEqual(
      expect.arrayContaining([
        { from: ids.runId, to: ids.modelVersionId, relation: 'PRODUCED' },
        { from: ids.datasetVersionId, to: ids.runId, relation: 'CONSUMED' },
        { from: ids.datasetVersionId, to: ids.modelVersionId, relation: 'TRAINED_ON' },
      ]),
    );
  });

  it('registers a retrained model as the next version of the same model, on the same dataset version', async () => {
    const first = await registerTrainedModel(api(), trained, {
      project,
      model: 'router-b',
      dataset: 'tickets-b',
    });
    const baseline = trainTicketRouter({ ...small, ...BASELINE_TICKET_ROUTER });
    const second = await registerTrainedModel(api(), baseline, {
      project,
      model: 'router-b',
      dataset: 'tickets-b',
    });
    expect(second.modelId).toBe(first.modelId);
    expect(second.version).toBe(first.version + 1);
    expect(second.datasetVersionId).toBe(first.datasetVersionId);
    expect(second.runId).not.toBe(first.runId);
    const [a, b] = await Promise.all([version(first.modelVersionId), version(second.modelVersionId)]);
    expect(b.metrics.accuracy).toBe(baseline.metrics.accuracy);
    expect(b.preprocessingHash).not.toBe(a.preprocessingHash);

    // New data makes a new dataset version.
    const other = trainTicketRouter({ ...small, seed: 6 });
    const third = await registerTrainedModel(api(), other, {
      project,
      model: 'router-b',
      dataset: 'tickets-b',
    });
    expect(third).toMatchObject({ datasetId: first.datasetId, datasetVersion: 2, version: 3 });
  });

  it('marks a version REJECTED when a golden sample does not reproduce', async () => {
    const [sample, ...rest] = trained.goldenSamples;
    const wrong = trained.labels.find((l) => l !== sample.expectedLabel)!;
    const tampered = { ...trained, goldenSamples: [{ ...sample, expectedLabel: wrong }, ...rest] };
    const ids = await registerTrainedModel(api(), tampered, { project, model: 'router-c' });
    expect(ids.status).toBe('REJECTED');
    expect(ids.validation).toMatchObject({ samples: 8, passed: 7, failed: 1 });
  });

  it('throws the hub error and marks the run FAILED when registration fails after the run started', async () => {
    const broken = { ...trained, labels: trained.labels.slice(0, 4) };
    const error = await registerTrainedModel(api(), broken, { project, model: 'router-d' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NerveApiError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'labels' });
    expect((error as Error).message).toMatch(/^RegisterModelVersion: labels: /);
    const runs = (
      await hub.gql<{ runs: { edges: Array<{ node: { status: string; error: string | null } }> } }>(RUNS, {
        p: project,
      })
    ).data!.runs.edges.map((e) => e.node);
    expect(runs).toContainEqual({
      id: expect.any(String),
      status: 'FAILED',
      error: expect.stringMatching(/labels/),
    });
  });

  it('retries a request whose connection the hub side reset, and finishes the registration', async () => {
    // A proxy that resets the first connections as a request arrives on them: what a client sees when it
    // reuses a keep-alive socket the server already closed (the ECONNRESET that broke the demo seed).
    const hubPort = Number(new URL(hub.url).port);
    let resets = 2;
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      sockets.add(client);
      if (resets > 0) {
        resets--;
        client.once('data', () => client.resetAndDestroy());
        return;
      }
      const upstream = net.connect(hubPort, '127.0.0.1');
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as net.AddressInfo;
      const registered = await registerTrainedModel(
        { url: `http://127.0.0.1:${port}/graphql`, key: api().key, retryDelayMs: 1 },
        trained,
        { project, model: unique('reset') },
      );
      expect(resets).toBe(0);
      expect(registered.status).toBe('VALIDATED');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('fails clearly on an unknown project or a bad key', async () => {
    await expect(registerTrainedModel(api(), trained, { project: unique('nowhere') })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      registerTrainedModel({ url: hub.url, key: 'nrv_not_a_key' }, trained, { project }),
    ).rejects.toThrow(/uploading the training CSV: HTTP 401/);
  });
});
