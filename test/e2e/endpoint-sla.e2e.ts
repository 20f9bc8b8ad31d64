import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.entity';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';

const SLA = 'sla { p95LatencyMs maxErrorRate minThroughputPerMinute minLiveAccuracy }';

interface AlertNode {
  status: string;
  severity: string;
  occurrences: number;
  title: string;
  evidence: Record<string, unknown>;
}

describe('endpoint SLA targets', () => {
  // A whole minute after the wall clock: endpoints are stamped by the database's clock, and the SLA
  // window must start after their creation once the test clock moves on (and not before it has).
  const afterWallClock = (): Date => new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  let clock = afterWallClock();
  const advance = (minutes: number): void => {
    clock = new Date(clock.getTime() + minutes * 60_000);
  };
  let hub: TestHub;
  let project: string;
  let model: string;
  let versionId: string;

  /** A new endpoint with the given SLA, and its id. */
  const endpointWith = async (sla: Record<string, unknown>): Promise<{ name: string; id: string }> => {
    const name = unique('sla');
    const { createEndpoint } = await hub.gqlOk<{ createEndpoint: { id: string } }>(
      'mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }',
      { i: { project, name, model, version: 1, sla } },
    );
    return { name, id: createEndpoint.id };
  };
  const throughputAlerts = async (endpointId: string): Promise<AlertNode[]> =>
    (
      await hub.gqlOk<{ alerts: { edges: Array<{ node: AlertNode & { endpointId: string } }> } }>(
        'query($p: String!, $k: [AlertKind!]) { alerts(project: $p, kinds: $k, first: 50) { edges { node { endpointId status severity occurrences title evidence } } } }',
        { p: project, k: [AlertKind.KPI] },
      )
    ).alerts.edges
      .map((e) => e.node)
      .filter((a) => a.endpointId === endpointId && a.evidence.kpi === 'throughput_per_minute');
  /** `n` healthy predictions in the current minute, as the serving path records them. */
  const traffic = (endpointId: string, n: number): void => {
    for (let i = 0; i < n; i++) hub.services.slaTracker.record(endpointId, versionId, 5, false);
  };

  beforeAll(async () => {
    hub = await startTestHub({}, { now: () => clock });
    project = unique('sla');
    await hub.gqlOk('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
      i: { slug: project, name: 'SLA' },
    });
    model = unique('router');
    const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project, name: model, task: 'CLASSIFICATION' } },
    );
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 2 }), project);
    const { registerModelVersion } = await hub.gqlOk<{ registerModelVersion: { id: string } }>(
      'mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }',
      {
        i: { modelId: createModel.id, artifactSha256: sha, featureNames: ['a', 'b'], labels: ['no', 'yes'] },
      },
    );
    versionId = registerModelVersion.id;
  });
  afterAll(() => hub.close());

  it('updateEndpoint keeps every SLA target it is given, and leaves the others', async () => {
    const { name } = await endpointWith({ p95LatencyMs: 500, minThroughputPerMinute: 10 });
    const updated = await hub.gqlOk<{ updateEndpoint: { sla: Record<string, number | null> } }>(
      `mutation($i: UpdateEndpointInput!) { updateEndpoint(input: $i) { ${SLA} } }`,
      { i: { endpoint: name, sla: { minLiveAccuracy: 0.85, maxErrorRate: 0.02 } } },
    );
    const expected = {
      p95LatencyMs: 500,
      maxErrorRate: 0.02,
      minThroughputPerMinute: 10,
      minLiveAccuracy: 0.85,
    };
    expect(updated.updateEndpoint.sla).toEqual(expected);
    const read = await hub.gqlOk<{ endpoint: { sla: Record<string, number | null> } }>(
      `query($n: String!) { endpoint(name: $n) { ${SLA} } }`,
      { n: name },
    );
    expect(read.endpoint.sla).toEqual(expected);
    const bad = await hub.gql(`mutation($i: UpdateEndpointInput!) { updateEndpoint(input: $i) { ${SLA} } }`, {
      i: { endpoint: name, sla: { minLiveAccuracy: 1.5 } },
    });
    expect(bad.errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'sla.minLiveAccuracy',
    });
    expect(
      (await hub.gqlOk<typeof read>(`query($n: String!) { endpoint(name: $n) { ${SLA} } }`, { n: name }))
        .endpoint.sla,
    ).toEqual(expected);
  });

  it('does not judge the throughput of an endpoint younger than the SLA window', async () => {
    clock = afterWallClock();
    const { id } = await endpointWith({ minThroughputPerMinute: 10 });
    await hub.services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toEqual([]);
  });

  it('raises a throughput alert when traffic falls below the minimum, and resolves it once traffic is back', async () => {
    clock = afterWallClock();
    const { id } = await endpointWith({ minThroughputPerMinute: 10 });
    // The window is 5 minutes, the current one included: at a whole minute 4 have elapsed.
    advance(10);
    traffic(id, 60);
    await hub.services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toEqual([]);

    advance(10);
    traffic(id, 8);
    await hub.services.monitoring.evaluate();
    const [alert] = await throughputAlerts(id);
    expect(alert).toMatchObject({ status: 'OPEN', severity: AlertSeverity.CRITICAL, occurrences: 1 });
    expect(alert.evidence).toMatchObject({ throughputPerMinute: 2, minThroughputPerMinute: 10, requests: 8 });
    expect(alert.title).toMatch(/2\.0 predictions\/min \(at least 10\)/);

    // No traffic at all is the same condition: one alert that persists, not a second one.
    advance(10);
    await hub.services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toMatchObject([{ status: 'OPEN', occurrences: 2 }]);

    // Back above the minimum by the clearing margin, for two ticks in a row.
    advance(10);
    traffic(id, 80);
    await hub.services.monitoring.evaluate();
    expect((await throughputAlerts(id))[0].status).toBe('OPEN');
    await hub.services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toMatchObject([{ status: 'RESOLVED' }]);
  });
});
