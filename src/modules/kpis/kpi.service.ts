import type { DataSource } from 'typeorm';
import { BadInputError, ConflictError, NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { isUuid, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { ModelVersion } from '../models/model.entity';
import { versionIdsInProject, versionsByIds } from '../models/model.repository';
import type { ProjectService } from '../projects/project.service';
import { meanInterval, normalQuantile, welchInterval, type SampleSummary } from './confidence';
import { attributedVersion } from '../predictions/prediction-log.repository';
import { DERIVED_KPIS } from './kpi-derivations';
import { Kpi, KpiAggregation, KpiDirection, KpiSource } from './kpi.entity';
import type {
  DefineKpiInput,
  KpiBucket,
  KpiComparison,
  KpiEstimate,
  KpiSeries,
  KpiSeriesArgs,
  KpiSeriesLine,
  KpisArgs,
  RecordKpiPointsInput,
  RecordKpiPointsResult,
} from './kpi.types';
import type { Platform } from '../../platform/platform';

const KEY = /^[a-z][a-z0-9_]{0,62}$/;
const MAX_POINTS = 10_000;

interface BucketRow {
  version: string | null;
  bucket: Date;
  n: number;
  mean: number;
  variance: number;
  total: number;
}

export interface KpiServiceDeps extends Pick<Platform, 'db' | 'now' | 'work'> {
  projects: ProjectService;
}

/**
 * Business KPIs: defined per project, pushed by any system or derived from synced records, each
 * point attributed to the model version whose prediction touched it, and compared across versions
 * with confidence intervals.
 */
export class KpiService {
  private readonly db: DataSource;
  /** Derived KPI ids by project and keys, once ensured. */
  private readonly derivedIds = new Map<string, Map<string, string>>();
  private readonly projects: ProjectService;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;

  constructor(deps: KpiServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.now = deps.now;
    this.work = deps.work;
  }

  async define(ctx: RequestContext, input: DefineKpiInput): Promise<Kpi> {
    const project = await this.projects.resolve(ctx, input.project, 'Kpi');
    ctx.authorize('update', 'Kpi', project.id);
    if (!KEY.test(input.key))
      throw new BadInputError('key', 'must be lower case letters, digits and underscores');
    if (DERIVED_KPIS.some((k) => k.key === input.key)) {
      throw new ConflictError(`${input.key} is computed by the hub from synced records`, 'key');
    }
    const values = {
      projectId: project.id,
      key: input.key,
      name: requireText('name', input.name),
      unit: requireText('unit', input.unit, 40),
      aggregation: input.aggregation,
      direction: input.direction,
      description: input.description ? requireText('description', input.description, 2000) : null,
      source: KpiSource.PUSHED,
      createdAt: this.now(),
    };
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const before = await manager.findOneBy(Kpi, { projectId: project.id, key: input.key });
      await manager
        .createQueryBuilder()
        .insert()
        .into(Kpi)
        .values(values)
        .orUpdate(['name', 'unit', 'aggregation', 'direction', 'description'], ['project_id', 'key'])
        .execute();
      const kpi = await manager.findOneByOrFail(Kpi, { projectId: project.id, key: input.key });
      const view = (k: Kpi) => ({
        name: k.name,
        unit: k.unit,
        aggregation: k.aggregation,
        direction: k.direction,
      });
      tx.audit({
        action: 'defineKpi',
        subjectType: 'Kpi',
        subjectId: kpi.id,
        projectId: project.id,
        before: before ? view(before) : null,
        after: { key: kpi.key, ...view(kpi) },
      });
      return kpi;
    });
  }

  async list(ctx: RequestContext, args: KpisArgs): Promise<ConnectionResult<Kpi>> {
    const project = await this.projects.resolve(ctx, args.project, 'Kpi');
    const qb = this.db
      .getRepository(Kpi)
      .createQueryBuilder('k')
      .where('k.projectId = :id', { id: project.id });
    return paginate(qb, args, { keys: ['key', 'id'], order: 'ASC' });
  }

  /** The derived KPIs of these record kinds in a project, created on first need: key → id. */
  async ensureDerived(projectId: string, recordKinds: string[]): Promise<Map<string, string>> {
    const wanted = DERIVED_KPIS.filter((k) => recordKinds.includes(k.recordKind));
    if (wanted.length === 0) return new Map();
    // A KPI, once there, keeps its id (KPIs are never deleted): every webhook and sync page need not ask.
    const cacheKey = `${projectId}\0${wanted.map((k) => k.key).join(',')}`;
    const cached = this.derivedIds.get(cacheKey);
    if (cached) return cached;
    await this.db
      .createQueryBuilder()
      .insert()
      .into(Kpi)
      .values(
        wanted.map((k) => ({
          projectId,
          key: k.key,
          name: k.name,
          unit: k.unit,
          aggregation: k.aggregation,
          direction: k.direction,
          description: k.description,
          source: KpiSource.DERIVED,
          createdAt: this.now(),
        })),
      )
      .orIgnore()
      .execute();
    const rows = await this.db
      .getRepository(Kpi)
      .createQueryBuilder('k')
      .where('k.projectId = :projectId AND k.key IN (:...keys)', {
        projectId,
        keys: wanted.map((k) => k.key),
      })
      .getMany();
    const ids = new Map(rows.map((k) => [k.key, k.id]));
    if (ids.size === wanted.length) this.derivedIds.set(cacheKey, ids);
    return ids;
  }

  /**
   * Appends points in one statement. Each is attributed to its model version, given or found through
   * its request key; one with a `sourceRef` replaces the earlier point with that ref.
   */
  async record(ctx: RequestContext, input: RecordKpiPointsInput): Promise<RecordKpiPointsResult> {
    const project = await this.projects.resolve(ctx, input.project, 'Kpi');
    ctx.authorize('create', 'Kpi', project.id);
    if (input.points.length === 0 || input.points.length > MAX_POINTS) {
      throw new BadInputError('points', `must hold 1 to ${MAX_POINTS} points`);
    }
    const kpis = await this.db.getRepository(Kpi).findBy({ projectId: project.id });
    const byKey = new Map(kpis.map((k) => [k.key, k]));
    const versionIds = new Set<string>();
    const rows = input.points.map((p, i) => {
      const kpi = byKey.get(p.kpi);
      if (!kpi) throw new NotFoundError('KPI', p.kpi, `points.${i}.kpi`);
      if (kpi.source === KpiSource.DERIVED) {
        throw new BadInputError(
          `points.${i}.kpi`,
          `${p.kpi} is computed from synced records; it cannot be pushed`,
        );
      }
      if (!Number.isFinite(p.value)) throw new BadInputError(`points.${i}.value`, 'must be a finite number');
      if (Number.isNaN(p.time.getTime())) throw new BadInputError(`points.${i}.time`, 'must be a date');
      if (p.modelVersionId != null) {
        if (!isUuid(p.modelVersionId)) throw new BadInputError(`points.${i}.modelVersionId`, 'must be an id');
        versionIds.add(p.modelVersionId);
      }
      if (p.requestKey != null) requireText(`points.${i}.requestKey`, p.requestKey);
      if (p.sourceRef != null) requireText(`points.${i}.sourceRef`, p.sourceRef, 400);
      if (p.dimensions != null && JSON.stringify(p.dimensions).length > 4096) {
        throw new BadInputError(`points.${i}.dimensions`, 'must be at most 4096 bytes');
      }
      return {
        kpi_id: kpi.id,
        time: p.time.toISOString(),
        value: p.value,
        model_version_id: p.modelVersionId ?? null,
        request_key: p.requestKey ?? null,
        dimensions: p.dimensions ?? {},
        source_ref: p.sourceRef ?? null,
      };
    });
    const refs = rows.filter((r) => r.source_ref !== null).map((r) => `${r.kpi_id}:${r.source_ref}`);
    const duplicate = refs.findIndex((r, i) => refs.indexOf(r) !== i);
    if (duplicate >= 0) throw new BadInputError('points', 'two points share one kpi and sourceRef');
    if (versionIds.size > 0) {
      const known = await versionIdsInProject(this.db.manager, [...versionIds], project.id);
      const i = input.points.findIndex((p) => p.modelVersionId != null && !known.has(p.modelVersionId));
      if (i >= 0)
        throw new NotFoundError(
          'Model version',
          input.points[i].modelVersionId!,
          `points.${i}.modelVersionId`,
        );
    }
    const claim = { operation: 'recordKpiPoints', key: input.idempotencyKey, args: input };
    return this.work.run(
      ctx,
      async (tx) => {
        const { manager } = tx;
        const inserted = (await manager.query(
          `INSERT INTO kpi_point AS k (kpi_id, project_id, time, value, model_version_id, request_key, dimensions, source_ref)
         SELECT r.kpi_id, $1, r.time, r.value,
                COALESCE(r.model_version_id, ${attributedVersion('$1::uuid', 'r.request_key')}),
                r.request_key, r.dimensions, r.source_ref
           FROM jsonb_to_recordset($2::jsonb) AS r(kpi_id uuid, time timestamptz, value double precision,
                model_version_id uuid, request_key text, dimensions jsonb, source_ref text)
         ON CONFLICT (kpi_id, source_ref) WHERE source_ref IS NOT NULL
         DO UPDATE SET time = EXCLUDED.time, value = EXCLUDED.value, model_version_id = EXCLUDED.model_version_id,
                       request_key = EXCLUDED.request_key, dimensions = EXCLUDED.dimensions
         RETURNING (k.model_version_id IS NOT NULL) AS attributed`,
          [project.id, JSON.stringify(rows)],
        )) as Array<{ attributed: boolean }>;
        const result = { recorded: inserted.length, attributed: inserted.filter((r) => r.attributed).length };
        // One event per call: points are data, the push is the act.
        tx.audit({
          action: 'recordKpiPoints',
          subjectType: 'Kpi',
          subjectId: null,
          projectId: project.id,
          after: { ...result, kpis: [...new Set(input.points.map((p) => p.kpi))] },
        });
        for (const kpi of kpis) {
          const times = rows.filter((r) => r.kpi_id === kpi.id).map((r) => r.time);
          if (times.length === 0) continue;
          tx.emit({
            type: 'kpi-points.recorded',
            stream: `kpi:${kpi.id}`,
            projectId: project.id,
            payload: {
              projectId: project.id,
              kpiId: kpi.id,
              kpi: kpi.key,
              points: times.length,
              // ISO instants sort as text.
              from: times.reduce((a, b) => (a < b ? a : b)),
              to: times.reduce((a, b) => (a > b ? a : b)),
            },
          });
        }
        return result;
      },
      claim,
    );
  }

  /**
   * A KPI over [from, to) in buckets, overall or one line per model version, with confidence
   * intervals; with `byModelVersion`, each version is compared with the one before it.
   */
  async series(ctx: RequestContext, args: KpiSeriesArgs): Promise<KpiSeries> {
    const project = await this.projects.resolve(ctx, args.project, 'Kpi');
    const kpi = await this.db.getRepository(Kpi).findOneBy({ projectId: project.id, key: args.kpi });
    if (!kpi) throw new NotFoundError('KPI', args.kpi, 'kpi');
    if (!(args.from < args.to)) throw new BadInputError('to', 'must be after from');
    if (!(args.confidence > 0 && args.confidence < 1))
      throw new BadInputError('confidence', 'must be in (0, 1)');
    const version = args.byModelVersion ? 'model_version_id' : 'NULL::uuid';
    const params = [kpi.id, args.from, args.to];
    const buckets = (await this.db.query(
      `SELECT ${version} AS version,
              date_trunc('${args.granularity}', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS bucket,
              count(*)::int AS n, avg(value) AS mean, COALESCE(var_samp(value), 0) AS variance, sum(value) AS total
         FROM kpi_point WHERE kpi_id = $1 AND time >= $2 AND time < $3
        GROUP BY 1, 2 ORDER BY 2`,
      params,
    )) as BucketRow[];
    const overall = (await this.db.query(
      `SELECT ${version} AS version, count(*)::int AS n, avg(value) AS mean, COALESCE(var_samp(value), 0) AS variance
         FROM kpi_point WHERE kpi_id = $1 AND time >= $2 AND time < $3 GROUP BY 1`,
      params,
    )) as Array<Omit<BucketRow, 'bucket' | 'total'>>;

    const lines = new Map<string | null, { buckets: KpiBucket[]; sample: SampleSummary; points: number }>();
    for (const row of overall) {
      lines.set(row.version, { buckets: [], sample: this.sample(row), points: row.n });
    }
    for (const row of buckets) {
      const s = this.sample(row);
      const estimate =
        kpi.aggregation === KpiAggregation.MEAN
          ? this.estimate(s, args.confidence)
          : this.poissonSum(s.n, Number(row.total), args.confidence);
      lines.get(row.version)!.buckets.push({ start: new Date(row.bucket), ...estimate });
    }
    const sampleOf = (line: { buckets: KpiBucket[]; sample: SampleSummary }): SampleSummary =>
      kpi.aggregation === KpiAggregation.MEAN ? line.sample : summarize(line.buckets.map((b) => b.value));
    const ids = [...lines.keys()].filter((v): v is string => v !== null);
    const versions = await versionsByIds(this.db.manager, ids);
    const byId = new Map(versions.map((v) => [v.id, v]));
    const ordered = [...lines.entries()].sort(([a], [b]) => order(byId.get(a ?? ''), byId.get(b ?? '')));
    const result: KpiSeriesLine[] = ordered.map(([id, line]) => {
      const s = sampleOf(line);
      return {
        modelVersion: id ? (byId.get(id) ?? null) : null,
        summary: { ...this.estimate(s, args.confidence), count: line.points },
        buckets: line.buckets,
      };
    });
    const comparisons: KpiComparison[] = [];
    const attributed = ordered.filter(([id]) => id !== null);
    for (let i = 1; i < attributed.length; i++) {
      const [baseId, baseLine] = attributed[i - 1];
      const [candId, candLine] = attributed[i];
      const base = byId.get(baseId!)!;
      const cand = byId.get(candId!)!;
      if (base.modelId !== cand.modelId) continue;
      const a = sampleOf(baseLine);
      const b = sampleOf(candLine);
      const interval = welchInterval(a, b, args.confidence);
      const difference = b.mean - a.mean;
      const excludesZero = interval !== null && (interval.low > 0 || interval.high < 0);
      const improves = kpi.direction === KpiDirection.HIGHER_IS_BETTER ? difference > 0 : difference < 0;
      comparisons.push({
        baseline: base,
        candidate: cand,
        baselineValue: a.mean,
        candidateValue: b.mean,
        difference,
        low: interval?.low ?? null,
        high: interval?.high ?? null,
        relativeChange: a.mean !== 0 ? difference / Math.abs(a.mean) : null,
        better: excludesZero && improves,
        worse: excludesZero && !improves,
      });
    }
    return { kpi, granularity: args.granularity, lines: result, comparisons };
  }

  /**
   * Attributes points that no prediction had touched when they were written but one does now (a
   * record synced before the prediction carrying its request key was logged): points of the last
   * `days` days, in batches of 10,000. Returns how many it attributed. Stops before the next batch once
   * `lost` says the job's lock went with its database session (another replica may hold it now).
   */
  async reattribute(days = 7, lost?: AbortSignal): Promise<number> {
    const since = new Date(this.now().getTime() - days * 86_400_000);
    let total = 0;
    for (;;) {
      lost?.throwIfAborted();
      const [{ n }] = (await this.db.query(
        `WITH found AS (
           SELECT k.id, a.version
             FROM kpi_point k
            CROSS JOIN LATERAL (SELECT ${attributedVersion('k.project_id', 'k.request_key')} AS version) a
            WHERE k.model_version_id IS NULL AND k.request_key IS NOT NULL AND k.time >= $1
              AND a.version IS NOT NULL
            LIMIT 10000),
         updated AS (
           UPDATE kpi_point k SET model_version_id = found.version FROM found WHERE k.id = found.id RETURNING 1)
         SELECT count(*)::int AS n FROM updated`,
        [since],
      )) as Array<{ n: number }>;
      total += n;
      if (n < 10_000) return total;
    }
  }

  private sample(row: { n: number; mean: number; variance: number }): SampleSummary {
    return { n: Number(row.n), mean: Number(row.mean), variance: Number(row.variance) };
  }

  private estimate(s: SampleSummary, confidence: number): KpiEstimate {
    const interval = meanInterval(s, confidence);
    return { count: s.n, value: s.mean, low: interval?.low ?? null, high: interval?.high ?? null };
  }

  /** A bucket's sum of counts, with a normal interval of a Poisson count (variance = the sum). */
  private poissonSum(count: number, total: number, confidence: number): KpiEstimate {
    if (count < 2) return { count, value: total, low: null, high: null };
    const half = normalQuantile(1 - (1 - confidence) / 2) * Math.sqrt(total);
    return { count, value: total, low: Math.max(0, total - half), high: total + half };
  }
}

function summarize(values: number[]): SampleSummary {
  const n = values.length;
  if (n === 0) return { n: 0, mean: 0, variance: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = n < 2 ? 0 : values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { n, mean, variance };
}

/** Unattributed last; versions by model, then number. */
function order(a: ModelVersion | undefined, b: ModelVersion | undefined): number {
  if (!a || !b) return a ? -1 : b ? 1 : 0;
  return a.modelId === b.modelId ? a.version - b.version : a.modelId < b.modelId ? -1 : 1;
}
