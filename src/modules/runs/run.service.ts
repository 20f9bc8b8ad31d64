import type { DataSource, EntityManager } from 'typeorm';
import { BadInputError, ConflictError, NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireIdSet, requireJsonObject, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { DatasetVersion } from '../datasets/dataset.entity';
import { datasetVersionLinks } from '../datasets/dataset.repository';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { ProjectService } from '../projects/project.service';
import { Run, RunMetric, RunStatus } from './run.entity';
import { runById, runInputs, runMetricKeys } from './run.loaders';
import { fillTimestamps, toMetricColumns } from './run-metrics';
import { acceptsMetrics, assertTransition, isTerminal } from './run-status';
import {
  type FinishRunArgs,
  type LogRunMetricsArgs,
  type LogRunMetricsResult,
  type RunMetricsArgs,
  type RunsArgs,
  type StartRunInput,
} from './run.types';
import type { Platform } from '../../platform/platform';

const MAX_ERROR_LENGTH = 10_000;
const MAX_TAGS = 100;
const MAX_INPUTS = 100;

export interface RunServiceDeps extends Pick<Platform, 'db' | 'now' | 'work'> {
  projects: ProjectService;
}

/** Runs (training, evaluation, data preparation...), their metrics, inputs and outputs. */
export class RunService {
  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;

  constructor(deps: RunServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.now = deps.now;
    this.work = deps.work;
  }

  /**
   * Registers a run. A run whose externalRef the project already knows is returned as it is, so an
   * orchestrator retrying its start creates nothing twice.
   */
  async start(ctx: RequestContext, input: StartRunInput): Promise<Run> {
    const project = await this.projects.resolve(ctx, input.project);
    ctx.authorize('create', 'Run', project.id);
    const name = requireText('name', input.name);
    const params = input.params == null ? {} : requireJsonObject('params', input.params);
    const tags = input.tags == null ? {} : requireTags(input.tags);
    const externalRef = input.externalRef == null ? null : requireText('externalRef', input.externalRef, 200);
    const inputIds = requireIdSet('inputs', input.inputs ?? [], MAX_INPUTS);
    const queued = input.queued ?? false;

    const creating = { operation: 'startRun', key: input.idempotencyKey, args: input, entity: Run };
    return this.work.create(ctx, creating, async (tx) => {
      const { manager } = tx;
      if (inputIds.length) await this.checkInputs(manager, project.id, input.inputs ?? [], inputIds);
      const inserted: Array<{ id: string }> = await manager.query(
        `INSERT INTO run (project_id, name, kind, status, params, tags, external_ref, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (project_id, external_ref) WHERE external_ref IS NOT NULL DO NOTHING
         RETURNING id`,
        [
          project.id,
          name,
          input.kind,
          queued ? RunStatus.QUEUED : RunStatus.RUNNING,
          params,
          tags,
          externalRef,
          queued ? null : this.now(),
        ],
      );
      if (!inserted.length) {
        return manager.findOneByOrFail(Run, { projectId: project.id, externalRef: externalRef as string });
      }
      const id = inserted[0].id;
      if (inputIds.length) {
        await manager.query(
          'INSERT INTO run_input (run_id, dataset_version_id) SELECT $1, unnest($2::uuid[])',
          [id, inputIds],
        );
      }
      const run = await manager.findOneByOrFail(Run, { id });
      tx.audit({
        action: 'startRun',
        subjectType: 'Run',
        subjectId: id,
        projectId: project.id,
        after: { name, kind: run.kind, status: run.status, params, tags, externalRef, inputs: inputIds },
      });
      return run;
    });
  }

  /** Moves a run to its next status: QUEUED to RUNNING or CANCELLED; RUNNING to a terminal status. */
  async finish(ctx: RequestContext, args: FinishRunArgs): Promise<Run> {
    const id = requireId('id', args.id);
    let error: string | null = null;
    if (args.error != null) {
      if (args.status !== RunStatus.FAILED && args.status !== RunStatus.CANCELLED) {
        throw new BadInputError('error', 'only a FAILED or CANCELLED run carries an error');
      }
      // Stack traces can be long; keep the head rather than losing the status update.
      error = args.error.slice(0, MAX_ERROR_LENGTH);
    }
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const run = await manager.findOne(Run, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!run || !ctx.can('read', 'Run', run.projectId)) throw new NotFoundError('Run', id);
      ctx.authorize('update', 'Run', run.projectId);
      assertTransition(run.status, args.status);
      const before = { status: run.status };
      const at = this.now();
      run.status = args.status;
      if (args.status === RunStatus.RUNNING) run.startedAt = at;
      if (isTerminal(args.status)) {
        run.finishedAt = at;
        run.error = error;
      }
      await manager.update(
        Run,
        { id },
        {
          status: run.status,
          startedAt: run.startedAt,
          finishedAt: run.finishedAt,
          error: run.error,
        },
      );
      tx.audit({
        action: 'finishRun',
        subjectType: 'Run',
        subjectId: id,
        projectId: run.projectId,
        before,
        after: { status: run.status, error: run.error },
      });
      return run;
    });
  }

  /**
   * Appends metric points to a QUEUED or RUNNING run in one multi-row statement. With an idempotency
   * key, a retry returns the first result and writes nothing.
   */
  async logMetrics(ctx: RequestContext, args: LogRunMetricsArgs): Promise<LogRunMetricsResult> {
    const runId = requireId('runId', args.runId);
    const columns = toMetricColumns(args.points);
    // The columns, timestamps still as given, describe the request more cheaply than the point objects.
    const request = { runId, ...columns };
    return this.work.run(
      ctx,
      async (tx) => {
        const { manager } = tx;
        // FOR SHARE: finishRun's FOR UPDATE waits for this batch, or this batch sees the finished run.
        const [run]: Array<{ project_id: string; status: RunStatus }> = await manager.query(
          'SELECT project_id, status FROM run WHERE id = $1 FOR SHARE',
          [runId],
        );
        if (!run || !ctx.can('read', 'Run', run.project_id)) throw new NotFoundError('Run', runId);
        ctx.authorize('update', 'Run', run.project_id);
        if (!acceptsMetrics(run.status)) {
          throw new ConflictError(
            `run is ${run.status}; only a QUEUED or RUNNING run accepts metrics`,
            'runId',
          );
        }
        await manager.query(
          `INSERT INTO run_metric (run_id, key, step, value, timestamp)
         SELECT $1, * FROM unnest($2::text[], $3::int[], $4::float8[], $5::timestamptz[])`,
          [runId, columns.keys, columns.steps, columns.values, fillTimestamps(columns, this.now())],
        );
        // One event per call, not per point: metrics are data, the call is the act.
        tx.audit({
          action: 'logRunMetrics',
          subjectType: 'Run',
          subjectId: runId,
          projectId: run.project_id,
          after: { points: columns.keys.length, keys: [...new Set(columns.keys)].slice(0, 50) },
        });
        return { runId, accepted: columns.keys.length };
      },
      { operation: 'logRunMetrics', key: args.idempotencyKey, args: request },
    );
  }

  /** A run the caller may read: NOT_FOUND otherwise, whether it exists or not. */
  async byId(ctx: RequestContext, id: string): Promise<Run> {
    const runId = requireId('id', id);
    const run = await runById(ctx, this.db).load(runId);
    if (!run || !ctx.can('read', 'Run', run.projectId)) throw new NotFoundError('Run', runId);
    return run;
  }

  /** Runs of a project, newest first, filtered by status and kind in SQL. */
  async list(ctx: RequestContext, args: RunsArgs): Promise<ConnectionResult<Run>> {
    const project = await this.projects.resolve(ctx, args.project, 'Run');
    const qb = this.db
      .getRepository(Run)
      .createQueryBuilder('r')
      .where('r.projectId = :projectId', { projectId: project.id });
    if (args.status) qb.andWhere('r.status = :status', { status: args.status });
    if (args.kind) qb.andWhere('r.kind = :kind', { kind: args.kind });
    return paginate(qb, args);
  }

  /** A run's metric points ordered by key, step and insertion. */
  async metrics(ctx: RequestContext, run: Run, args: RunMetricsArgs): Promise<ConnectionResult<RunMetric>> {
    this.assertReadable(ctx, run);
    const qb = this.db
      .getRepository(RunMetric)
      .createQueryBuilder('m')
      .where('m.runId = :runId', { runId: run.id });
    if (args.key != null) qb.andWhere('m.key = :key', { key: args.key });
    return paginate(qb, args, { keys: ['key', 'step', 'id'], order: 'ASC' });
  }

  async metricKeys(ctx: RequestContext, run: Run): Promise<string[]> {
    this.assertReadable(ctx, run);
    return runMetricKeys(ctx, this.db).load(run.id);
  }

  /** Dataset versions the run read (those the caller may read). */
  async inputs(ctx: RequestContext, run: Run): Promise<DatasetVersion[]> {
    this.assertReadable(ctx, run);
    const versions = await runInputs(ctx, this.db).load(run.id);
    return versions.filter((v) => ctx.can('read', 'Dataset', v.projectId));
  }

  /** Field resolvers receive runs from anywhere in the schema; reading one needs its project. */
  private assertReadable(ctx: RequestContext, run: Run): void {
    if (!ctx.can('read', 'Run', run.projectId)) throw new NotFoundError('Run', run.id);
  }

  /** Every input must be a dataset version of the run's project: BAD_USER_INPUT `inputs.<i>` otherwise. */
  private async checkInputs(
    manager: EntityManager,
    projectId: string,
    given: string[],
    ids: string[],
  ): Promise<void> {
    const rows = await datasetVersionLinks(manager, projectId, ids);
    const found = new Set(rows.map((r) => r.id));
    const missing = given.findIndex((id) => !found.has(id.toLowerCase()));
    if (missing >= 0)
      throw new BadInputError(`inputs.${missing}`, 'is not a dataset version of this project');
  }
}

/** Tags are a flat map of strings, so they can be filtered and shown as labels. */
function requireTags(value: unknown): Record<string, string> {
  const tags = requireJsonObject('tags', value);
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) throw new BadInputError('tags', `must hold at most ${MAX_TAGS} tags`);
  for (const [key, tag] of entries) {
    if (typeof tag !== 'string') throw new BadInputError(`tags.${key}`, 'must be a string');
  }
  return tags as Record<string, string>;
}
