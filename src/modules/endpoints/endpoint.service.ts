import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { BadInputError, ConflictError, NotFoundError, fromDatabaseError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { isUuid, requireSlug, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { InferenceRuntime, RuntimeVersion } from '../inference/inference-runtime';
import { murmur3 } from '../../common/murmur3';
import type { Model, ModelTask, ModelVersion } from '../models/model.entity';
import { ModelVersionStatus } from '../models/model.enums';
import { modelById, modelInProject, versionByNumber, versionsByIds } from '../models/model.repository';
import type { ModelService } from '../models/model.service';
import { OnnxLoadError } from '../inference/onnx-signature';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import type { ImpactAssessmentService } from '../governance/impact-assessment.service';
import type { ProjectService } from '../projects/project.service';
import { Endpoint, EndpointTraffic } from './endpoint.entity';
import type {
  CreateEndpointInput,
  EndpointsArgs,
  SetEndpointTrafficInput,
  TrafficHistoryArgs,
  UpdateEndpointInput,
} from './endpoint.types';
import type { Platform } from '../../platform/platform';
import { checkBatching, checkSampleRate, checkSla } from './endpoint-settings';

/** Which part of the split a request went to. */
export type TrafficRole = 'STABLE' | 'CANARY';

/** An endpoint with its versions ready for the runtime: what `predict` needs, cached briefly. */
export interface Route {
  endpoint: Endpoint;
  task: ModelTask;
  versions: Map<string, { runtime: RuntimeVersion; number: number }>;
  /** Why the project may not serve now (risk policy), or null. */
  servingBlock: string | null;
}

/**
 * Asked inside a manual traffic change's transaction, before it is applied: throws to refuse it (a
 * rollout changing the endpoint's traffic owns the split until it ends).
 */
export type TrafficGuard = (manager: EntityManager, endpointId: string) => Promise<void>;

/** Traffic changes made on another replica reach this one's routing within this long. */
const ROUTE_TTL_MS = 1_000;

export interface EndpointServiceDeps extends Pick<Platform, 'db' | 'now' | 'work'> {
  projects: ProjectService;
  models: ModelService;
  runtime: InferenceRuntime;
  governance: ImpactAssessmentService;
}

/** Endpoints, their traffic splits with history, and the routing of each request to a version. */
export class EndpointService {
  /** Checks every manual traffic change passes, registered where the services are wired (observers.ts). */
  readonly trafficGuards: TrafficGuard[] = [];

  private readonly routes = new Map<string, { at: number; route: Promise<Route | undefined> }>();

  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly models: ModelService;
  private readonly runtime: InferenceRuntime;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;
  private readonly governance: ImpactAssessmentService;

  constructor(deps: EndpointServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.models = deps.models;
    this.runtime = deps.runtime;
    this.now = deps.now;
    this.work = deps.work;
    this.governance = deps.governance;
  }

  async create(ctx: RequestContext, input: CreateEndpointInput): Promise<Endpoint> {
    const project = await this.projects.resolve(ctx, input.project, 'Endpoint');
    ctx.authorize('create', 'Endpoint', project.id);
    const name = requireSlug('name', input.name);
    const model = await this.modelIn(project.id, input.model);
    const version = await this.servableVersion(model, input.version, 'version');
    const sla = checkSla(input.sla);
    const batching = checkBatching(input.batching);
    const logSampleRate = checkSampleRate(input.logSampleRate) ?? 1;
    await this.governance.assertMayServe(project.id, 'project');
    const creating = { operation: 'createEndpoint', key: input.idempotencyKey, args: input };
    try {
      return await this.work.create(ctx, { ...creating, entity: Endpoint }, async (tx) => {
        const { manager } = tx;
        const endpoint = manager.create(Endpoint, {
          projectId: project.id,
          name,
          modelId: model.id,
          stableVersionId: version.id,
          canaryVersionId: null,
          canaryWeight: 0,
          shadowVersionId: null,
          slaP95LatencyMs: sla.p95LatencyMs ?? null,
          slaMaxErrorRate: sla.maxErrorRate ?? null,
          slaMinThroughputPerMinute: sla.minThroughputPerMinute ?? null,
          slaMinLiveAccuracy: sla.minLiveAccuracy ?? null,
          maxBatchSize: batching.maxBatchSize ?? 32,
          maxQueueDelayMs: batching.maxQueueDelayMs ?? 0,
          logSampleRate,
        });
        await manager.save(endpoint);
        // The audit event and the traffic event go with the traffic history row.
        await this.recordTraffic(tx, endpoint, 'created', 'createEndpoint', null);
        return manager.findOneByOrFail(Endpoint, { id: endpoint.id });
      });
    } catch (error) {
      if (fromDatabaseError(error) instanceof ConflictError)
        throw new ConflictError(`an endpoint named "${name}" already exists`, 'name');
      throw error;
    }
  }

  async update(ctx: RequestContext, input: UpdateEndpointInput): Promise<Endpoint> {
    const endpoint = await this.byName(ctx, input.endpoint, 'endpoint');
    ctx.authorize('update', 'Endpoint', endpoint.projectId);
    const changes: Partial<
      Pick<
        Endpoint,
        | 'slaP95LatencyMs'
        | 'slaMaxErrorRate'
        | 'slaMinThroughputPerMinute'
        | 'slaMinLiveAccuracy'
        | 'maxBatchSize'
        | 'maxQueueDelayMs'
        | 'logSampleRate'
      >
    > = {};
    if (input.sla) {
      const sla = checkSla(input.sla);
      if (sla.p95LatencyMs !== undefined) changes.slaP95LatencyMs = sla.p95LatencyMs;
      if (sla.maxErrorRate !== undefined) changes.slaMaxErrorRate = sla.maxErrorRate;
      if (sla.minThroughputPerMinute !== undefined)
        changes.slaMinThroughputPerMinute = sla.minThroughputPerMinute;
      if (sla.minLiveAccuracy !== undefined) changes.slaMinLiveAccuracy = sla.minLiveAccuracy;
    }
    if (input.batching) {
      const batching = checkBatching(input.batching);
      if (batching.maxBatchSize != null) changes.maxBatchSize = batching.maxBatchSize;
      if (batching.maxQueueDelayMs != null) changes.maxQueueDelayMs = batching.maxQueueDelayMs;
    }
    const rate = checkSampleRate(input.logSampleRate);
    if (rate !== undefined) changes.logSampleRate = rate;
    if (Object.keys(changes).length) {
      await this.work.run(ctx, async (tx) => {
        const { manager } = tx;
        await manager.update(Endpoint, { id: endpoint.id }, changes);
        const before = Object.fromEntries(
          Object.keys(changes).map((k) => [k, endpoint[k as keyof typeof changes]]),
        );
        tx.audit({
          action: 'updateEndpoint',
          subjectType: 'Endpoint',
          subjectId: endpoint.id,
          projectId: endpoint.projectId,
          before,
          after: changes,
        });
      });
    }
    this.routes.delete(endpoint.name);
    return this.db.getRepository(Endpoint).findOneByOrFail({ id: endpoint.id });
  }

  /**
   * Replaces an endpoint's traffic split. Every version named must be servable (not REJECTED or
   * ARCHIVED, its preprocessing fitting its model, loadable): it is loaded here, so the first requests
   * sent its way find it warm.
   */
  async setTraffic(ctx: RequestContext, input: SetEndpointTrafficInput): Promise<Endpoint> {
    const endpoint = await this.byName(ctx, input.endpoint, 'endpoint');
    ctx.authorize('deploy', 'Endpoint', endpoint.projectId);
    const model = await modelById(this.db.manager, endpoint.modelId);
    if ((input.canaryVersion == null) !== (input.canaryWeight == null))
      throw new BadInputError('canaryWeight', 'goes with canaryVersion: give both or neither');
    const weight = input.canaryWeight ?? 0;
    if (!(Number.isFinite(weight) && weight >= 0 && weight <= 100))
      throw new BadInputError('canaryWeight', 'must be a percentage from 0 to 100');
    const stable = await this.servableVersion(model, input.stableVersion, 'stableVersion');
    const canary =
      input.canaryVersion == null
        ? null
        : await this.servableVersion(model, input.canaryVersion, 'canaryVersion');
    const shadow =
      input.shadowVersion == null
        ? null
        : await this.servableVersion(model, input.shadowVersion, 'shadowVersion');
    const reason = input.reason == null ? null : requireText('reason', input.reason, 1_000);
    await this.governance.assertMayServe(endpoint.projectId, 'endpoint');
    return this.work.run(ctx, async (tx) => {
      for (const guard of this.trafficGuards) await guard(tx.manager, endpoint.id);
      return this.applyTraffic(
        tx,
        endpoint.id,
        {
          stableVersionId: stable.id,
          canaryVersionId: canary?.id ?? null,
          canaryWeight: canary ? weight : 0,
          shadowVersionId: shadow?.id ?? null,
        },
        reason,
        null,
      );
    });
  }

  /**
   * Replaces an endpoint's split inside a change under way (a traffic change by hand, or a rollout
   * step), closing the previous history row. This replica's router sees it once the change commits,
   * the others within a second.
   */
  async applyTraffic(
    tx: Change,
    endpointId: string,
    traffic: Pick<Endpoint, 'stableVersionId' | 'canaryVersionId' | 'canaryWeight' | 'shadowVersionId'>,
    reason: string | null,
    rolloutId: string | null,
  ): Promise<Endpoint> {
    const { manager } = tx;
    const locked = await manager.findOne(Endpoint, {
      where: { id: endpointId },
      lock: { mode: 'pessimistic_write' },
    });
    if (!locked) throw new NotFoundError('Endpoint', endpointId, 'endpoint');
    Object.assign(locked, traffic);
    await manager.save(locked);
    await this.recordTraffic(tx, locked, reason, 'setEndpointTraffic', rolloutId);
    tx.afterCommit(() => this.routes.delete(locked.name));
    return locked;
  }

  /** An endpoint the caller may read, by name (or id); NOT_FOUND naming `field` otherwise. */
  async byName(ctx: RequestContext, ref: string, field = 'name'): Promise<Endpoint> {
    const qb = this.db.getRepository(Endpoint).createQueryBuilder('e').where('e.name = :ref', { ref });
    if (isUuid(ref)) qb.orWhere('e.id = :id', { id: ref });
    const endpoint = await qb.getOne();
    if (!endpoint || !ctx.can('read', 'Endpoint', endpoint.projectId))
      throw new NotFoundError('Endpoint', ref, field);
    return endpoint;
  }

  async list(ctx: RequestContext, args: EndpointsArgs): Promise<ConnectionResult<Endpoint>> {
    const project = await this.projects.resolve(ctx, args.project, 'Endpoint');
    const qb = this.db
      .getRepository(Endpoint)
      .createQueryBuilder('e')
      .where('e.projectId = :projectId', { projectId: project.id });
    return paginate(qb, args);
  }

  /** The endpoint's traffic splits, newest first; with `at`, the one in force then. */
  async trafficHistory(
    endpoint: Endpoint,
    args: TrafficHistoryArgs,
  ): Promise<ConnectionResult<EndpointTraffic>> {
    const qb = this.db
      .getRepository(EndpointTraffic)
      .createQueryBuilder('t')
      .where('t.endpointId = :id', { id: endpoint.id });
    if (args.at != null) {
      if (Number.isNaN(args.at.getTime())) throw new BadInputError('at', 'is not a valid instant');
      qb.andWhere('t.validFrom <= :at AND (t.validTo IS NULL OR t.validTo > :at)', { at: args.at });
    }
    return paginate(qb, { first: args.first, after: args.after }, { keys: ['validFrom', 'id'] });
  }

  /**
   * The endpoint `name` with its versions, for serving; cached for a second per replica so `predict`
   * costs no query. Undefined when no such endpoint exists.
   */
  route(name: string): Promise<Route | undefined> {
    const cached = this.routes.get(name);
    const at = Date.now();
    if (cached && at - cached.at < ROUTE_TTL_MS) return cached.route;
    const route = this.loadRoute(name);
    this.routes.set(name, { at, route });
    route.catch(() => this.routes.delete(name));
    return route;
  }

  /** The version a request key is sent to: the canary for a stable `weight` percent of keys. */
  choose(route: Route, requestKey: string): { versionId: string; role: TrafficRole } {
    const { endpoint } = route;
    if (endpoint.canaryVersionId && endpoint.canaryWeight > 0) {
      const bucket = murmur3(`${endpoint.id}\u0000${requestKey}`) % 10_000;
      if (bucket < endpoint.canaryWeight * 100)
        return { versionId: endpoint.canaryVersionId, role: 'CANARY' };
    }
    return { versionId: endpoint.stableVersionId, role: 'STABLE' };
  }

  private async loadRoute(name: string): Promise<Route | undefined> {
    const endpoint = await this.db.getRepository(Endpoint).findOneBy({ name });
    if (!endpoint) return undefined;
    const model = await modelById(this.db.manager, endpoint.modelId);
    const ids = [endpoint.stableVersionId, endpoint.canaryVersionId, endpoint.shadowVersionId].filter(
      (id): id is string => id !== null,
    );
    const rows = await versionsByIds(this.db.manager, ids);
    const versions = new Map(
      rows.map((v) => [v.id, { runtime: this.models.runtimeVersion(v, model.task), number: v.version }]),
    );
    return {
      endpoint,
      task: model.task,
      versions,
      servingBlock: await this.governance.servingBlock(endpoint.projectId),
    };
  }

  private async recordTraffic(
    tx: Change,
    endpoint: Endpoint,
    reason: string | null,
    action: string,
    rolloutId: string | null,
  ): Promise<void> {
    const { manager } = tx;
    const keyId = tx.ctx.actingKeyId;
    const at = this.now();
    const [previous] = (await manager.query(
      `SELECT stable_version_id, canary_version_id, canary_weight, shadow_version_id
         FROM endpoint_traffic WHERE endpoint_id = $1 AND valid_to IS NULL`,
      [endpoint.id],
    )) as Array<Record<string, unknown>>;
    tx.emit({
      type: 'endpoint.traffic-changed',
      stream: `endpoint:${endpoint.id}`,
      projectId: endpoint.projectId,
      payload: {
        projectId: endpoint.projectId,
        endpointId: endpoint.id,
        endpointName: endpoint.name,
        stableVersionId: endpoint.stableVersionId,
        canaryVersionId: endpoint.canaryVersionId,
        canaryWeight: endpoint.canaryWeight,
        shadowVersionId: endpoint.shadowVersionId,
        reason,
        rolloutId,
      },
    });
    tx.audit({
      action,
      subjectType: 'Endpoint',
      subjectId: endpoint.id,
      projectId: endpoint.projectId,
      before: previous
        ? {
            stableVersionId: previous.stable_version_id,
            canaryVersionId: previous.canary_version_id,
            canaryWeight: previous.canary_weight,
            shadowVersionId: previous.shadow_version_id,
          }
        : null,
      after: {
        name: endpoint.name,
        stableVersionId: endpoint.stableVersionId,
        canaryVersionId: endpoint.canaryVersionId,
        canaryWeight: endpoint.canaryWeight,
        shadowVersionId: endpoint.shadowVersionId,
        reason,
      },
    });
    await manager.update(EndpointTraffic, { endpointId: endpoint.id, validTo: IsNull() }, { validTo: at });
    await manager.insert(EndpointTraffic, {
      endpointId: endpoint.id,
      stableVersionId: endpoint.stableVersionId,
      canaryVersionId: endpoint.canaryVersionId,
      canaryWeight: endpoint.canaryWeight,
      shadowVersionId: endpoint.shadowVersionId,
      validFrom: at,
      validTo: null,
      changedByKeyId: keyId,
      reason,
    });
  }

  private async modelIn(projectId: string, ref: string): Promise<Model> {
    const model = await modelInProject(this.db.manager, projectId, ref);
    if (!model) throw new BadInputError('model', `names no model in the project (${ref})`);
    return model;
  }

  /**
   * Version `number` of the model, checked servable (not REJECTED or ARCHIVED, its preprocessing fitting
   * its model, loadable) and loaded, so the first requests sent its way find it warm; errors name `field`.
   * Endpoints, rollouts and replays all ask this before a version scores anything.
   */
  async servableVersion(model: Model, number: number, field: string): Promise<ModelVersion> {
    const version = await versionByNumber(this.db.manager, model.id, number);
    if (!version) throw new BadInputError(field, `model ${model.name} has no version ${number}`);
    if (version.status === ModelVersionStatus.REJECTED) {
      const failed = (version.validation as { failed?: number } | null)?.failed ?? 0;
      throw new BadInputError(
        field,
        `version ${number} is REJECTED (${failed} golden sample${failed === 1 ? '' : 's'} not reproduced; see its validation)`,
      );
    }
    if (version.status === ModelVersionStatus.ARCHIVED)
      throw new BadInputError(field, `version ${number} is ARCHIVED`);
    try {
      await this.runtime.load(this.models.runtimeVersion(version, model.task));
    } catch (error) {
      if (error instanceof BadInputError)
        throw new BadInputError(field, `version ${number} cannot be served: ${error.message}`);
      if (error instanceof OnnxLoadError)
        throw new BadInputError(field, `version ${number} cannot be loaded: ${error.reason}`);
      throw error;
    }
    return version;
  }
}
