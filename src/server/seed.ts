import { Role } from '../modules/api-keys/api-key.entity';
import { Project, RiskLevel } from '../modules/projects/project.entity';
import { ApiKey } from '../modules/api-keys/api-key.entity';
import { RequestContext } from '../context/context';
import { registerTrainedModel } from '../training/register-model';
import { BASELINE_TICKET_ROUTER, trainTicketRouter } from '../training/train-ticket-router';
import type { Services } from './services';

export interface SeedResult {
  /** The one-time admin key, when this start created it. */
  adminKey?: string;
  demoProject?: string;
  /** The endpoint serving the demo's trained ticket router, once `seedDemoModels` has run. */
  demoEndpoint?: string;
}

/** The demo's endpoint: the ticket router, version 1 (version 2, better, waits to be rolled out). */
export const DEMO_ENDPOINT = 'ticket-router';

/** An arbitrary constant: the advisory lock under which one replica seeds a fresh database. */
const SEED_LOCK = 7_146_500_102;

/** On a fresh database: an admin key (shown once) and, unless disabled, a demo project. */
export async function seed(services: Services): Promise<SeedResult> {
  return services.db.transaction(async (manager) => {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK]);
    const result: SeedResult = {};
    if ((await manager.count(ApiKey)) === 0) {
      const { secret } = await services.apiKeys.bootstrap(
        { name: 'bootstrap admin', role: Role.ADMIN },
        manager,
      );
      result.adminKey = secret;
    }
    if (services.config.seedDemo && (await manager.count(Project)) === 0) {
      await manager.insert(Project, {
        slug: 'demo',
        name: 'Demo project',
        description: 'Created on first start. Safe to delete.',
        riskLevel: RiskLevel.LIMITED,
      });
      result.demoProject = 'demo';
    }
    return result;
  });
}

/**
 * Trains the ticket router twice (a weak baseline, then the full model), registers both through the
 * API exactly as an outside pipeline would, and serves version 1 on an endpoint. Uses a short-lived
 * key scoped to the demo project, revoked afterwards.
 */
export async function seedDemoModels(
  services: Services,
  graphqlUrl: string,
  project: string,
): Promise<string> {
  const system = RequestContext.system(services.logger, 'seed');
  const projectRow = await services.projects.resolve(system, project);
  const { key, secret } = await services.apiKeys.create(system, {
    name: 'demo seed (revoked after use)',
    role: Role.ML_ENGINEER,
    projectIds: [projectRow.id],
  });
  try {
    const api = { url: graphqlUrl, key: secret };
    for (const options of [BASELINE_TICKET_ROUTER, {}]) {
      await registerTrainedModel(api, trainTicketRouter(options), { project });
    }
    await services.endpoints.create(system, {
      project,
      name: DEMO_ENDPOINT,
      model: 'ticket-router',
      version: 1,
      sla: { p95LatencyMs: 50, maxErrorRate: 0.01 },
    });
    return DEMO_ENDPOINT;
  } finally {
    await services.apiKeys.revoke(system, key.id);
  }
}
