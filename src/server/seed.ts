import { Role } from '../common/role';
import { Project, RiskLevel } from '../modules/projects/project.entity';
import { ApiKey } from '../modules/api-keys/api-key.entity';
import { Endpoint } from '../modules/endpoints/endpoint.entity';
import { HubState } from '../modules/hub-state/hub-state.entity';
import { Model, ModelVersion } from '../modules/models/model.entity';
import { RequestContext } from '../context/context';
import { xactHubLock } from '../db/advisory-lock';
import { registerTrainedModel, type TrainedModel } from '../training/register-model';
import { trainTicketRouterInWorker } from '../training/train-in-worker';
import { BASELINE_TICKET_ROUTER, type TrainTicketRouterOptions } from '../training/train-ticket-router';
import type { Services } from './services';

export interface SeedResult {
  /** The one-time admin key, when this start created it. */
  adminKey?: string;
  /** The demo project whose models this start must (still) seed: created now or left unfinished before. */
  demoProject?: string;
  /** True when this start created the demo project (false: resuming an unfinished seed). */
  demoCreated?: boolean;
  /** The endpoint serving the demo's trained ticket router, once `seedDemoModels` has run. */
  demoEndpoint?: string;
  /** What the demo still lacks when seeding did not finish; the next start resumes it. */
  demoMissing?: string[];
}

/** The demo's endpoint: the ticket router, version 1 (version 2, better, waits to be rolled out). */
export const DEMO_ENDPOINT = 'ticket-router';
const DEMO_MODEL = 'ticket-router';
const FULL_TICKET_ROUTER: TrainTicketRouterOptions = {};
const DEMO_DESCRIPTION = 'Created on first start. Safe to delete.';

/** The `hub_state` row recording how far seeding the demo got. */
const DEMO_STATE = 'demo-seed';
interface DemoSeedState {
  project: string;
  status: 'pending' | 'complete';
}

/**
 * On a fresh database: an admin key (shown once) and, unless disabled, a demo project. On later starts:
 * the demo project again when seeding its models has not finished yet (until it has, every start
 * resumes it).
 */
export async function seed(services: Services): Promise<SeedResult> {
  const seeder = RequestContext.system(services.logger, 'seed');
  return services.work.run(seeder, async (tx) => {
    const { manager } = tx;
    await xactHubLock(manager, 'seed');
    const result: SeedResult = {};
    if ((await manager.count(ApiKey)) === 0) {
      const { secret } = await services.apiKeys.bootstrap(
        { name: 'bootstrap admin', role: Role.ADMIN },
        manager,
      );
      result.adminKey = secret;
    }
    if (!services.config.seedDemo) return result;
    const row = await manager.findOneBy(HubState, { key: DEMO_STATE });
    let state = row?.value as DemoSeedState | undefined;
    if (!state) {
      if ((await manager.count(Project)) === 0) state = { project: 'demo', status: 'pending' };
      // Hubs from before this state was kept: their demo project may lack its models for good.
      else if (await manager.existsBy(Project, { slug: 'demo', description: DEMO_DESCRIPTION }))
        state = { project: 'demo', status: 'pending' };
      else return result;
      await manager.insert(HubState, { key: DEMO_STATE, value: { ...state } });
    }
    if (state.status !== 'pending') return result;
    if (!(await manager.existsBy(Project, { slug: state.project }))) {
      const project = manager.create(Project, {
        slug: state.project,
        name: 'Demo project',
        description: DEMO_DESCRIPTION,
        riskLevel: RiskLevel.LIMITED,
      });
      await manager.insert(Project, project);
      tx.emit({
        type: 'project.created',
        stream: `project:${project.id}`,
        projectId: project.id,
        payload: { projectId: project.id, slug: project.slug, name: project.name },
      });
      result.demoCreated = true;
    }
    result.demoProject = state.project;
    return result;
  });
}

export interface SeedDemoOptions {
  /** Trains one version; default: in a worker thread, so the hub keeps serving (and its client talking). */
  train?: (options: TrainTicketRouterOptions) => Promise<TrainedModel>;
  /** Whole passes over what is missing before this start gives up (the next start resumes). Default 3. */
  passes?: number;
}

/** The outcome of `seedDemoModels`: the endpoint when complete, else what is missing. */
export interface DemoSeedOutcome {
  endpoint?: string;
  missing: string[];
}

/**
 * Brings the demo project to its complete state, doing only what is missing: the ticket router trained
 * twice (a weak baseline as version 1, the full model as version 2), registered through the API exactly
 * as an outside pipeline would, and version 1 served on an endpoint. Marks the seed complete once all is
 * there; until then every start calls this again. Never throws: a failure is logged loudly, with what is
 * missing, and returned for the banner. Uses a short-lived key scoped to the demo project, revoked
 * afterwards.
 */
export async function seedDemoModels(
  services: Services,
  graphqlUrl: string,
  project: string,
  options: SeedDemoOptions = {},
): Promise<DemoSeedOutcome> {
  // Training is deterministic: a retried pass reuses what an earlier one trained.
  const trained = new Map<TrainTicketRouterOptions, Promise<TrainedModel>>();
  const trainOnce = options.train ?? trainTicketRouterInWorker;
  const train = (o: TrainTicketRouterOptions): Promise<TrainedModel> => {
    let result = trained.get(o);
    if (!result) {
      result = trainOnce(o);
      trained.set(o, result);
      // A worker that died is worth another try on the next pass.
      result.catch(() => trained.delete(o));
    }
    return result;
  };
  const passes = options.passes ?? 3;
  const logger = services.logger;
  let lastError: unknown;
  for (let pass = 1; pass <= passes; pass++) {
    try {
      await seedMissing(services, graphqlUrl, project, train);
      await services.db
        .getRepository(HubState)
        .save({ key: DEMO_STATE, value: { project, status: 'complete' } satisfies DemoSeedState });
      return { endpoint: DEMO_ENDPOINT, missing: [] };
    } catch (error) {
      lastError = error;
      logger.warn('seeding the demo failed; retrying what is missing', { pass, passes, error });
    }
  }
  const missing = await demoMissing(services, project).catch(() => [
    '(could not tell: database unreachable)',
  ]);
  logger.error(
    `DEMO INCOMPLETE: seeding the demo project "${project}" did not finish; missing: ${missing.join(', ')}. ` +
      'The next start resumes it.',
    { error: lastError, missing },
  );
  return { missing };
}

interface DemoProgress {
  versions: number;
  endpoint: boolean;
}

async function progress(services: Services, project: string): Promise<DemoProgress | undefined> {
  const projectRow = await services.db.getRepository(Project).findOneBy({ slug: project });
  if (!projectRow) return undefined;
  const model = await services.db
    .getRepository(Model)
    .findOneBy({ projectId: projectRow.id, name: DEMO_MODEL });
  const versions = model ? await services.db.getRepository(ModelVersion).countBy({ modelId: model.id }) : 0;
  const endpoint = await services.db.getRepository(Endpoint).existsBy({ name: DEMO_ENDPOINT });
  return { versions, endpoint };
}

/** Human-readable list of what the demo lacks. */
async function demoMissing(services: Services, project: string): Promise<string[]> {
  const state = await progress(services, project);
  if (!state) return [`project "${project}"`];
  const missing: string[] = [];
  if (state.versions < 1) missing.push(`${DEMO_MODEL} version 1`);
  if (state.versions < 2) missing.push(`${DEMO_MODEL} version 2`);
  if (!state.endpoint) missing.push(`endpoint "${DEMO_ENDPOINT}"`);
  return missing;
}

async function seedMissing(
  services: Services,
  graphqlUrl: string,
  project: string,
  train: (options: TrainTicketRouterOptions) => Promise<TrainedModel>,
): Promise<void> {
  const state = await progress(services, project);
  if (!state) throw new Error(`the demo project "${project}" is gone`);
  if (state.versions >= 2 && state.endpoint) return;
  const system = RequestContext.system(services.logger, 'seed');
  if (state.versions < 2) {
    const projectRow = await services.projects.resolve(system, project);
    const { key, secret } = await services.apiKeys.create(system, {
      name: 'demo seed (revoked after use)',
      role: Role.ML_ENGINEER,
      projectIds: [projectRow.id],
    });
    try {
      const api = { url: graphqlUrl, key: secret };
      // Version numbers are the order of registration: the baseline first, then the full model.
      const pending = [BASELINE_TICKET_ROUTER, FULL_TICKET_ROUTER].slice(state.versions);
      for (const trainOptions of pending) {
        await registerTrainedModel(api, await train(trainOptions), { project, model: DEMO_MODEL });
      }
    } finally {
      await services.apiKeys.revoke(system, key.id);
    }
  }
  if (!state.endpoint) {
    await services.endpoints.create(system, {
      project,
      name: DEMO_ENDPOINT,
      model: DEMO_MODEL,
      version: 1,
      sla: { p95LatencyMs: 50, maxErrorRate: 0.01 },
    });
  }
}
