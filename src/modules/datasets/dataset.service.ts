import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { canonicalJson } from '../../common/canonical-json';
import { BadInputError, ConflictError, NotFoundError, fromDatabaseError } from '../../common/errors';
import { pageSize, paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireSha256, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { ArtifactService } from '../artifacts/artifact.service';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { ProjectService } from '../projects/project.service';
import { csvInputError, readCsv } from './dataset-csv';
import type { ColumnSpec, ColumnType, FeatureProfile } from './dataset-profile';
import { DatasetProfiler, MAX_COLUMNS, NonNumericValueError, profileRows } from './dataset-profiler';
import { Dataset, DatasetVersion } from './dataset.entity';
import { DatasetLoaders } from './dataset.loaders';
import {
  DatasetColumnType,
  type CreateDatasetInput,
  type DatasetColumnInput,
  type DatasetsArgs,
  type RegisterDatasetVersionInput,
} from './dataset.types';
import type { Platform } from '../../platform/platform';

/** The most rows `registerDatasetVersion` takes inline; larger data travels as a CSV artifact. */
export const MAX_INLINE_ROWS = 10_000;
const MAX_CELL_CHARS = 10_000;
const MAX_COLUMN_NAME = 200;

interface ProfiledData {
  sha256: string;
  rowCount: number;
  columns: ColumnSpec[];
  profile: FeatureProfile;
}

export interface DatasetServiceDeps extends Pick<Platform, 'db' | 'work'> {
  projects: ProjectService;
  artifacts: ArtifactService;
}

/** Datasets and their immutable, profiled versions. */
export class DatasetService {
  private readonly loaders: DatasetLoaders;

  private readonly db: DataSource;
  private readonly projects: ProjectService;
  private readonly artifacts: ArtifactService;
  private readonly work: UnitOfWork;

  constructor(deps: DatasetServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.artifacts = deps.artifacts;
    this.work = deps.work;
    this.loaders = new DatasetLoaders(deps.db);
  }

  async create(ctx: RequestContext, input: CreateDatasetInput): Promise<Dataset> {
    const project = await this.projects.resolve(ctx, input.project);
    ctx.authorize('create', 'Dataset', project.id);
    const name = requireText('name', input.name);
    const description = input.description?.trim()
      ? requireText('description', input.description, 10_000)
      : null;
    const creating = { operation: 'createDataset', key: input.idempotencyKey, args: input };
    return this.work.create(ctx, { ...creating, entity: Dataset }, async (tx) => {
      const { manager } = tx;
      const dataset = manager.create(Dataset, { projectId: project.id, name, description });
      try {
        await manager.insert(Dataset, dataset);
      } catch (error) {
        if (fromDatabaseError(error) instanceof ConflictError) {
          throw new ConflictError(`project ${project.slug} already has a dataset named "${name}"`, 'name');
        }
        throw error;
      }
      tx.audit({
        action: 'createDataset',
        subjectType: 'Dataset',
        subjectId: dataset.id,
        projectId: project.id,
        after: { name, description },
      });
      return dataset;
    });
  }

  /** The project's datasets, newest first; NOT_FOUND when the caller cannot read the project. */
  async list(ctx: RequestContext, args: DatasetsArgs): Promise<ConnectionResult<Dataset>> {
    const project = await this.projects.resolve(ctx, args.project, 'Dataset');
    const qb = this.db
      .getRepository(Dataset)
      .createQueryBuilder('d')
      .where('d.projectId = :projectId', { projectId: project.id });
    return paginate(qb, args);
  }

  /** A dataset the caller may read, or NOT_FOUND (no existence leak across projects). */
  async byId(ctx: RequestContext, id: string, field = 'id'): Promise<Dataset> {
    const datasetId = requireId(field, id);
    const dataset = await this.loaders.datasetById(ctx).load(datasetId);
    if (!dataset || !ctx.can('read', 'Dataset', dataset.projectId))
      throw new NotFoundError('Dataset', datasetId);
    return dataset;
  }

  async versionById(ctx: RequestContext, id: string): Promise<DatasetVersion> {
    const versionId = requireId('id', id);
    const version = await this.db.getRepository(DatasetVersion).findOneBy({ id: versionId });
    if (!version || !ctx.can('read', 'Dataset', version.projectId))
      throw new NotFoundError('DatasetVersion', versionId);
    return version;
  }

  /** The newest `first` versions of a dataset, batched: one statement for every dataset in the request. */
  async versionsOf(
    ctx: RequestContext,
    dataset: Dataset,
    first: number | null | undefined,
  ): Promise<DatasetVersion[]> {
    if (!ctx.can('read', 'Dataset', dataset.projectId)) throw new NotFoundError('Dataset', dataset.id);
    return this.loaders.latestVersions(ctx, pageSize(first)).load(dataset.id);
  }

  /** The dataset a version belongs to, batched across the request. */
  async datasetOf(ctx: RequestContext, version: DatasetVersion): Promise<Dataset> {
    const dataset = await this.loaders.datasetById(ctx).load(version.datasetId);
    if (!dataset || !ctx.can('read', 'Dataset', dataset.projectId))
      throw new NotFoundError('Dataset', version.datasetId);
    return dataset;
  }

  /**
   * Profiles the data (rows inline, or a CSV artifact streamed twice) and records it as the dataset's
   * next version. Profiling runs before the transaction; the transaction locks the dataset row so
   * concurrent registrations number their versions one after another.
   */
  async registerVersion(ctx: RequestContext, input: RegisterDatasetVersionInput): Promise<DatasetVersion> {
    const hasRows = input.rows !== null && input.rows !== undefined;
    const hasCsv = input.csvSha256 !== null && input.csvSha256 !== undefined;
    if (hasRows === hasCsv)
      throw new BadInputError(hasRows ? 'csvSha256' : 'rows', 'give exactly one of rows or csvSha256');
    const uri = input.uri?.trim() ? requireText('uri', input.uri, 2048) : null;
    const overrides = columnOverrides(input.columns);
    const dataset = await this.byId(ctx, input.datasetId, 'datasetId');
    ctx.authorize('create', 'Dataset', dataset.projectId);
    const data = hasRows
      ? profileInline(input.rows as unknown[], overrides)
      : await this.profileCsv(ctx, dataset.projectId, input.csvSha256!, overrides);

    const creating = { operation: 'registerDatasetVersion', key: input.idempotencyKey, args: input };
    return this.work.create(ctx, { ...creating, entity: DatasetVersion }, async (tx) => {
      const { manager } = tx;
      const locked = await manager
        .getRepository(Dataset)
        .createQueryBuilder('d')
        .setLock('pessimistic_write')
        .where('d.id = :id', { id: dataset.id })
        .getOne();
      if (!locked) throw new NotFoundError('Dataset', dataset.id);
      const { next } = (await manager
        .getRepository(DatasetVersion)
        .createQueryBuilder('v')
        .select('COALESCE(MAX(v.version), 0) + 1', 'next')
        .where('v.datasetId = :id', { id: dataset.id })
        .getRawOne()) as { next: number | string };
      const version = manager.create(DatasetVersion, {
        datasetId: dataset.id,
        projectId: dataset.projectId,
        version: Number(next),
        sha256: data.sha256,
        uri,
        rowCount: data.rowCount,
        columns: data.columns,
        profile: data.profile,
      });
      await manager.insert(DatasetVersion, version);
      tx.emit({
        type: 'dataset-version.registered',
        stream: `dataset:${dataset.id}`,
        projectId: dataset.projectId,
        payload: {
          projectId: dataset.projectId,
          datasetId: dataset.id,
          datasetName: dataset.name,
          versionId: version.id,
          version: version.version,
          rows: version.rowCount,
        },
      });
      tx.audit({
        action: 'registerDatasetVersion',
        subjectType: 'DatasetVersion',
        subjectId: version.id,
        projectId: dataset.projectId,
        after: {
          datasetId: dataset.id,
          version: version.version,
          sha256: version.sha256,
          rowCount: version.rowCount,
          uri,
        },
      });
      return version;
    });
  }

  private async profileCsv(
    ctx: RequestContext,
    projectId: string,
    sha256: string,
    overrides: Overrides,
  ): Promise<ProfiledData> {
    ctx.authorize('read', 'Artifact', projectId);
    const hex = requireSha256('csvSha256', sha256);
    const { path } = await this.artifacts.locate(projectId, hex, 'csvSha256');
    let profiler: DatasetProfiler | undefined;
    for await (const { cells, line } of readCsv(path, 'csvSha256', { lines: true })) {
      if (!profiler) {
        profiler = new DatasetProfiler(csvHeader(cells, line), overrides.types);
        checkOverrides(overrides, profiler.names);
        continue;
      }
      try {
        profiler.scan(cells, line);
      } catch (error) {
        if (error instanceof NonNumericValueError) {
          throw csvInputError(
            'csvSha256',
            `${JSON.stringify(error.value)} is not a number, yet the column is declared NUMERIC`,
            line,
            error.column,
          );
        }
        throw error;
      }
    }
    if (!profiler) throw new BadInputError('csvSha256', 'the CSV is empty; a header row is required');
    if (profiler.rowCount === 0) throw new BadInputError('csvSha256', 'the CSV has a header but no rows');
    const columns = profiler.columns();
    let header = true;
    for await (const { cells } of readCsv(path, 'csvSha256')) {
      if (header) header = false;
      else profiler.count(cells);
    }
    return { sha256: hex, rowCount: profiler.rowCount, columns, profile: profiler.profile() };
  }
}

interface Overrides {
  types: Map<string, ColumnType>;
  /** Index in the input list, to name `columns.<i>.name` when the data lacks the column. */
  index: Map<string, number>;
}

function columnOverrides(columns: DatasetColumnInput[] | null | undefined): Overrides {
  const overrides: Overrides = { types: new Map(), index: new Map() };
  if (!columns) return overrides;
  if (columns.length > MAX_COLUMNS) throw new BadInputError('columns', `at most ${MAX_COLUMNS} columns`);
  columns.forEach((column, i) => {
    const name = column.name.trim();
    if (!name) throw new BadInputError(`columns.${i}.name`, 'must not be empty');
    if (overrides.types.has(name)) throw new BadInputError(`columns.${i}.name`, `"${name}" is given twice`);
    overrides.types.set(name, column.type === DatasetColumnType.NUMERIC ? 'NUMERIC' : 'CATEGORICAL');
    overrides.index.set(name, i);
  });
  return overrides;
}

function checkOverrides(overrides: Overrides, names: string[]): void {
  const present = new Set(names);
  for (const [name, i] of overrides.index) {
    if (!present.has(name)) throw new BadInputError(`columns.${i}.name`, `the data has no column "${name}"`);
  }
}

function csvHeader(cells: string[], line: number): string[] {
  if (cells.length > MAX_COLUMNS)
    throw csvInputError('csvSha256', `has ${cells.length} columns, more than ${MAX_COLUMNS}`, line);
  const names = cells.map((cell) => cell.trim());
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (!name)
      throw csvInputError(
        'csvSha256',
        `header column ${i + 1} has no name; the first row must be a header`,
        line,
      );
    if (seen.has(name)) throw csvInputError('csvSha256', `header names column "${name}" twice`, line);
    seen.add(name);
  });
  return names;
}

function profileInline(rows: unknown[], overrides: Overrides): ProfiledData {
  if (rows.length === 0) throw new BadInputError('rows', 'must hold at least one row');
  if (rows.length > MAX_INLINE_ROWS) {
    throw new BadInputError(
      'rows',
      `at most ${MAX_INLINE_ROWS} rows inline; upload larger data as a CSV artifact and pass csvSha256`,
    );
  }
  const names: string[] = [];
  const known = new Set<string>();
  rows.forEach((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw new BadInputError(`rows.${i}`, 'must be a JSON object');
    for (const [key, value] of Object.entries(row)) {
      if (value !== null && typeof value === 'object') {
        throw new BadInputError(`rows.${i}.${key}`, 'must be a string, number, boolean or null');
      }
      // A cell can become a category of the stored profile, and is quoted back in errors.
      if (typeof value === 'string' && value.length > MAX_CELL_CHARS)
        throw new BadInputError(`rows.${i}.${key}`, `must be at most ${MAX_CELL_CHARS} characters`);
      if (known.has(key)) continue;
      if (!key.trim()) throw new BadInputError(`rows.${i}`, 'column names must not be empty');
      if (key.length > MAX_COLUMN_NAME)
        throw new BadInputError(`rows.${i}`, `column names must be at most ${MAX_COLUMN_NAME} characters`);
      if (names.length >= MAX_COLUMNS) throw new BadInputError('rows', `more than ${MAX_COLUMNS} columns`);
      known.add(key);
      names.push(key);
    }
  });
  if (names.length === 0) throw new BadInputError('rows', 'the rows have no columns');
  checkOverrides(overrides, names);
  const cells = (rows as Array<Record<string, unknown>>).map((row) => names.map((name) => row[name]));
  try {
    const { columns, profile, rowCount } = profileRows(names, cells, overrides.types);
    return { sha256: sha256Hex(canonicalJson(rows)), rowCount, columns, profile };
  } catch (error) {
    if (error instanceof NonNumericValueError) {
      throw new BadInputError(
        `rows.${error.row}.${error.column}`,
        `${JSON.stringify(error.value)} is not a number, yet the column is declared NUMERIC`,
      );
    }
    throw error;
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
