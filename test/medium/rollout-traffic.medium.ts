import type { RequestContext } from '../../src/context/context';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { ModelTask } from '../../src/modules/models/model.entity';
import { RolloutStrategy } from '../../src/modules/rollouts/rollout.entity';
import { linearClassifierOnnx } from '../factories/onnx';
import { unique } from '../support/env';
import { refusal, startTestServices, storeArtifact, type TestServices } from '../support/services';

// A rollout owns its endpoint's traffic split until it ends: the endpoints module asks the guard the
// rollouts module registers (src/server/observers.ts), without reading the rollout table itself.
describe('manual traffic changes during a rollout', () => {
  let services: TestServices;
  let admin: RequestContext;
  let project: string;
  let model: string;

  beforeAll(async () => {
    services = await startTestServices();
    admin = await services.as(Role.ADMIN);
    project = unique('guard');
    await services.projects.create(admin, { slug: project, name: 'Traffic guard' });
    model = unique('router');
    const { id: modelId } = await services.models.create(admin, {
      project,
      name: model,
      task: ModelTask.CLASSIFICATION,
    });
    for (const bias of [0, 0.5]) {
      const sha = await storeArtifact(
        services,
        admin,
        linearClassifierOnnx({ features: 2, classes: 2, bias: [bias, 0] }),
        project,
      );
      await services.models.registerVersion(admin, {
        modelId,
        artifactSha256: sha,
        featureNames: ['a', 'b'],
        labels: ['no', 'yes'],
      });
    }
  });
  afterAll(() => services.close());

  it('are refused (CONFLICT on endpoint, nothing changed) until the rollout ends, then allowed', async () => {
    const endpoint = unique('guarded');
    await services.endpoints.create(admin, { project, name: endpoint, model, version: 1 });
    const rollout = await services.rollouts.deploy(admin, {
      endpoint,
      version: 2,
      strategy: RolloutStrategy.CANARY,
      steps: [{ weight: 10, pauseMinutes: 60, manualGate: false }],
    });

    const refused = await refusal(
      services.endpoints.setTraffic(admin, { endpoint, stableVersion: 2, reason: 'by hand' }),
    );
    expect(refused).toMatchObject({ code: 'CONFLICT', field: 'endpoint' });
    expect(refused.message).toContain(`rollout ${rollout.id}`);
    const during = await services.endpoints.byName(admin, endpoint);
    expect(during.stableVersionId).toBe(rollout.fromVersionId);

    await services.rolloutApprovals.rollback(admin, rollout.id, 'make way');
    const after = await services.endpoints.setTraffic(admin, { endpoint, stableVersion: 2 });
    expect(after.stableVersionId).toBe(rollout.toVersionId);
  });
});
