import type { RequestContext } from '../../src/context/context';
import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.entity';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import type { SlaInput } from '../../src/modules/endpoints/endpoint.types';
import { ModelTask } from '../../src/modules/models/model.entity';
import { linearClassifierOnnx } from '../factories/onnx';
import { unique } from '../support/env';
import { refusal, startTestServices, storeArtifact, type TestServices } from '../support/services';

describe('endpoint SLA targets', () => {
  // A whole minute after the wall clock: endpoints are stamped by the database's clock, and the SLA
  // window must start after their creation once the test clock moves on (and not before it has).
  const afterWallClock = (): Date => new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000);
  let clock = afterWallClock();
  const advance = (minutes: number): void => {
    clock = new Date(clock.getTime() + minutes * 60_000);
  };
  let services: TestServices;
  let admin: RequestContext;
  let project: string;
  let model: string;
  let versionId: string;

  /** A new endpoint serving version 1 with the given SLA, and its id. */
  const endpointWith = async (sla: SlaInput): Promise<{ name: string; id: string }> => {
    const name = unique('sla');
    const { id } = await services.endpoints.create(admin, { project, name, model, version: 1, sla });
    return { name, id };
  };
  const throughputAlerts = async (endpointId: string) =>
    (await services.alerts.list(admin, { project, kinds: [AlertKind.KPI], first: 50 })).edges
      .map((e) => e.node)
      .filter((a) => a.endpointId === endpointId && a.evidence.kpi === 'throughput_per_minute');
  /** `n` healthy predictions in the current minute, as the serving path records them. */
  const traffic = (endpointId: string, n: number): void => {
    for (let i = 0; i < n; i++) services.slaTracker.record(endpointId, versionId, 5, false);
  };

  beforeAll(async () => {
    services = await startTestServices({}, { now: () => clock });
    admin = await services.as(Role.ADMIN);
    project = unique('sla');
    await services.projects.create(admin, { slug: project, name: 'SLA' });
    model = unique('router');
    const created = await services.models.create(admin, {
      project,
      name: model,
      task: ModelTask.CLASSIFICATION,
    });
    const sha = await storeArtifact(
      services,
      admin,
      linearClassifierOnnx({ features: 2, classes: 2 }),
      project,
    );
    versionId = (
      await services.models.registerVersion(admin, {
        modelId: created.id,
        artifactSha256: sha,
        featureNames: ['a', 'b'],
        labels: ['no', 'yes'],
      })
    ).id;
  });
  afterAll(() => services.close());

  it('updateEndpoint keeps every SLA target it is given, and leaves the others', async () => {
    const { name } = await endpointWith({ p95LatencyMs: 500, minThroughputPerMinute: 10 });
    const updated = await services.endpoints.update(admin, {
      endpoint: name,
      sla: { minLiveAccuracy: 0.85, maxErrorRate: 0.02 },
    });
    const expected = {
      p95LatencyMs: 500,
      maxErrorRate: 0.02,
      minThroughputPerMinute: 10,
      minLiveAccuracy: 0.85,
    };
    expect(updated.sla).toEqual(expected);
    expect((await services.endpoints.byName(admin, name)).sla).toEqual(expected);
    const bad = await refusal(
      services.endpoints.update(admin, { endpoint: name, sla: { minLiveAccuracy: 1.5 } }),
    );
    expect(bad).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sla.minLiveAccuracy' });
    expect((await services.endpoints.byName(admin, name)).sla).toEqual(expected);
  });

  it('does not judge the throughput of an endpoint younger than the SLA window', async () => {
    clock = afterWallClock();
    const { id } = await endpointWith({ minThroughputPerMinute: 10 });
    await services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toEqual([]);
  });

  it('raises a throughput alert when traffic falls below the minimum, and resolves it once traffic is back', async () => {
    clock = afterWallClock();
    const { id } = await endpointWith({ minThroughputPerMinute: 10 });
    // The window is 5 minutes, the current one included: at a whole minute 4 have elapsed.
    advance(10);
    traffic(id, 60);
    await services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toEqual([]);

    advance(10);
    traffic(id, 8);
    await services.monitoring.evaluate();
    const [alert] = await throughputAlerts(id);
    expect(alert).toMatchObject({ status: 'OPEN', severity: AlertSeverity.CRITICAL, occurrences: 1 });
    expect(alert.evidence).toMatchObject({ throughputPerMinute: 2, minThroughputPerMinute: 10, requests: 8 });
    expect(alert.title).toMatch(/2\.0 predictions\/min \(at least 10\)/);

    // No traffic at all is the same condition: one alert that persists, not a second one.
    advance(10);
    await services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toMatchObject([{ status: 'OPEN', occurrences: 2 }]);

    // Back above the minimum by the clearing margin, for two ticks in a row.
    advance(10);
    traffic(id, 80);
    await services.monitoring.evaluate();
    expect((await throughputAlerts(id))[0].status).toBe('OPEN');
    await services.monitoring.evaluate();
    expect(await throughputAlerts(id)).toMatchObject([{ status: 'RESOLVED' }]);
  });
});
