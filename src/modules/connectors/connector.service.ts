import { randomUUID } from 'node:crypto';
import cron from 'node-cron';
import type { DataSource } from 'typeorm';
import {
  ConnectorError,
  validateFields,
  type ConnectorDefinition,
  type ConnectorEnv,
  type FieldSpec,
} from '../../../connectors/_shared';
import { BadInputError, ConflictError, DomainError, ErrorCode, NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { isUuid, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { AuditEntry } from '../../platform/audit/audit-trail';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { Platform } from '../../platform/platform';
import type { ProjectService } from '../projects/project.service';
import { Connector, type ConnectorErrorKind, SyncRun, SyncRunStatus, SyncTrigger } from './connector.entity';
import type {
  ConnectorActionResult,
  ConnectorCheck,
  ConnectorField,
  ConnectorKind,
  ConnectorsArgs,
  CreateConnectorInput,
  RunConnectorActionInput,
  SyncRunsArgs,
  UpdateConnectorInput,
} from './connector.types';
import type { SecretBox } from './secret-box';
import { SyncBusy, type SyncRunner } from './sync-runner';

/** Listeners told when connectors (or their schedules) change, so the worker can reschedule. */
export type ConnectorsChanged = () => void;

export interface ConnectorServiceDeps extends Platform {
  projects: ProjectService;
  /** The adapters this hub has, by kind. */
  registry: ReadonlyMap<string, ConnectorDefinition>;
  box: SecretBox;
  runner: SyncRunner;
  env: ConnectorEnv;
}

/**
 * Connectors: create and configure them (secrets sealed, write-only), check them, sync them now or on
 * their schedule and run their actions. What they synced is `SyncedRecordService`'s.
 */
export class ConnectorService {
  readonly changed: ConnectorsChanged[] = [];
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;
  private readonly projects: ProjectService;
  private readonly registry: ReadonlyMap<string, ConnectorDefinition>;
  private readonly box: SecretBox;
  private readonly runner: SyncRunner;
  private readonly env: ConnectorEnv;

  constructor(deps: ConnectorServiceDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.work = deps.work;
    this.projects = deps.projects;
    this.registry = deps.registry;
    this.box = deps.box;
    this.runner = deps.runner;
    this.env = deps.env;
  }

  kinds(): ConnectorKind[] {
    return [...this.registry.values()].map((d) => ({
      kind: d.spec.kind,
      title: d.spec.title,
      config: d.spec.config.map(fieldInfo),
      secrets: d.spec.secrets.map(fieldInfo),
      streams: d.streams.map((s) => ({ ...s })),
      actions: d.actions.map((a) => ({
        name: a.name,
        description: a.description,
        input: a.input.map(fieldInfo),
      })),
    }));
  }

  async create(ctx: RequestContext, input: CreateConnectorInput): Promise<Connector> {
    const project = await this.projects.resolve(ctx, input.project, 'Connector');
    ctx.authorize('create', 'Connector', project.id);
    const definition = this.registry.get(input.kind);
    if (!definition) {
      throw new BadInputError(
        'kind',
        `unknown connector kind; this hub has ${[...this.registry.keys()].join(', ')}`,
      );
    }
    const id = randomUUID();
    const secrets = this.validSecrets(definition, input.secrets, false);
    const at = this.now();
    const connector: Connector = {
      id,
      projectId: project.id,
      name: requireText('name', input.name),
      kind: input.kind,
      config: validInput(definition.spec.config, input.config, 'config'),
      secretsCiphertext: this.box.seal(secrets, id),
      secretNames: Object.keys(secrets).sort(),
      schedule: validSchedule(input.schedule),
      enabled: true,
      createdAt: at,
      updatedAt: at,
    };
    await this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      const inserted = await manager
        .createQueryBuilder()
        .insert()
        .into(Connector)
        .values(connector as never)
        .orIgnore()
        .returning(['id'])
        .execute();
      if (inserted.raw.length === 0) {
        throw new ConflictError(`a connector named ${connector.name} exists in this project`, 'name');
      }
      tx.audit(connectorAudit('createConnector', connector, null));
    });
    this.notify();
    return this.db.getRepository(Connector).findOneByOrFail({ id });
  }

  async update(ctx: RequestContext, id: string, input: UpdateConnectorInput): Promise<Connector> {
    const connector = await this.byId(ctx, id);
    ctx.authorize('update', 'Connector', connector.projectId);
    const definition = this.definitionOf(connector);
    const patch: Partial<Connector> = { updatedAt: this.now() };
    if (input.config != null) patch.config = validInput(definition.spec.config, input.config, 'config');
    if (input.secrets != null) {
      const given = this.validSecrets(definition, input.secrets, true);
      const merged = { ...this.box.open(connector.secretsCiphertext, connector.id), ...given };
      patch.secretsCiphertext = this.box.seal(merged, connector.id);
      patch.secretNames = Object.keys(merged).sort();
    }
    if (input.schedule !== undefined && input.schedule !== null) {
      patch.schedule = input.schedule === '' ? null : validSchedule(input.schedule);
    }
    if (input.enabled != null) patch.enabled = input.enabled;
    await this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      await manager.update(Connector, { id: connector.id }, patch as never);
      const after = { ...connector, ...patch };
      tx.audit(
        connectorAudit('updateConnector', after, connector, input.secrets ? Object.keys(input.secrets) : []),
      );
    });
    this.notify();
    return this.db.getRepository(Connector).findOneByOrFail({ id: connector.id });
  }

  async byId(ctx: RequestContext, id: string, field = 'id'): Promise<Connector> {
    const connector = isUuid(id) ? await this.db.getRepository(Connector).findOneBy({ id }) : null;
    if (!connector || !ctx.can('read', 'Connector', connector.projectId))
      throw new NotFoundError('Connector', id, field);
    return connector;
  }

  async list(ctx: RequestContext, args: ConnectorsArgs): Promise<ConnectionResult<Connector>> {
    const project = await this.projects.resolve(ctx, args.project, 'Connector');
    const qb = this.db
      .getRepository(Connector)
      .createQueryBuilder('c')
      .where('c.projectId = :id', { id: project.id });
    return paginate(qb, args, { keys: ['createdAt', 'id'] });
  }

  /** Airbyte's check: the config and credentials work against the vendor. Never throws for a bad answer. */
  async check(ctx: RequestContext, id: string): Promise<ConnectorCheck> {
    const connector = await this.byId(ctx, id);
    ctx.authorize('operate', 'Connector', connector.projectId);
    try {
      await this.open(connector).check();
      return { ok: true, message: 'ok', errorKind: null };
    } catch (error) {
      if (error instanceof ConnectorError)
        return { ok: false, message: error.message, errorKind: error.kind as ConnectorErrorKind };
      throw error;
    }
  }

  /**
   * Starts a sync now and returns its run. While one runs, the running one is returned (no overlap);
   * the same idempotency key returns the run it started.
   */
  async sync(ctx: RequestContext, id: string, idempotencyKey: string | null | undefined): Promise<SyncRun> {
    const connector = await this.byId(ctx, id);
    ctx.authorize('operate', 'Connector', connector.projectId);
    if (idempotencyKey != null) {
      requireText('idempotencyKey', idempotencyKey);
      const earlier = await this.db.getRepository(SyncRun).findOneBy({
        connectorId: connector.id,
        requestedByKeyId: ctx.caller.keyId,
        idempotencyKey,
      });
      if (earlier) return earlier;
    }
    if (!connector.enabled) throw new ConflictError(`connector ${connector.name} is disabled`, 'id');
    try {
      const { run } = await this.runner.start(connector, SyncTrigger.MANUAL, {
        ctx,
        idempotencyKey: idempotencyKey ?? null,
      });
      return run;
    } catch (error) {
      if (!(error instanceof SyncBusy)) throw error;
      const running = await this.db
        .getRepository(SyncRun)
        .findOneBy({ connectorId: connector.id, status: SyncRunStatus.RUNNING });
      if (running) return running;
      throw new ConflictError(
        'a sync of this connector is starting on another replica; try again shortly',
        'id',
      );
    }
  }

  /**
   * A scheduled tick: syncs to the end unless a sync is running or one already started for this tick
   * (on another replica). Failures are in the run, not thrown.
   */
  async syncScheduled(connectorId: string, tick: Date): Promise<SyncRun | null> {
    const connector = await this.db.getRepository(Connector).findOneBy({ id: connectorId });
    if (!connector || !connector.enabled) return null;
    try {
      const { done } = await this.runner.start(connector, SyncTrigger.SCHEDULE, null, tick);
      return await done;
    } catch (error) {
      if (error instanceof SyncBusy) return null;
      throw error;
    }
  }

  /** Connectors with a schedule, for the worker's scheduler. */
  scheduled(): Promise<Array<Pick<Connector, 'id' | 'schedule' | 'updatedAt'>>> {
    return this.db
      .getRepository(Connector)
      .createQueryBuilder('c')
      .select(['c.id', 'c.schedule', 'c.updatedAt'])
      .where('c.schedule IS NOT NULL AND c.enabled')
      .getMany();
  }

  async syncRuns(ctx: RequestContext, args: SyncRunsArgs): Promise<ConnectionResult<SyncRun>> {
    const connector = await this.byId(ctx, args.connector, 'connector');
    const qb = this.db
      .getRepository(SyncRun)
      .createQueryBuilder('r')
      .where('r.connectorId = :id', { id: connector.id });
    return paginate(qb, args, { keys: ['startedAt', 'id'] });
  }

  /** Runs an action in the vendor system (a model decision becomes work there); at most once per idempotency key. */
  async act(ctx: RequestContext, input: RunConnectorActionInput): Promise<ConnectorActionResult> {
    const connector = await this.byId(ctx, input.connector, 'connector');
    ctx.authorize('operate', 'Connector', connector.projectId);
    const definition = this.definitionOf(connector);
    const action = definition.actions.find((a) => a.name === input.action);
    if (!action) {
      throw new BadInputError(
        'action',
        `${connector.kind} has ${definition.actions.length ? definition.actions.map((a) => a.name).join(', ') : 'no actions'}`,
      );
    }
    const values = validInput(action.input, input.input, 'input');
    const session = this.open(connector);
    const run = async (resumed = false): Promise<ConnectorActionResult> => {
      try {
        return await session.act(action.name, values, input.idempotencyKey ?? undefined, { resumed });
      } catch (error) {
        if (error instanceof ConnectorError) {
          throw new DomainError(
            error.kind === 'PERMANENT' ? ErrorCode.BAD_USER_INPUT : ErrorCode.UNAVAILABLE,
            error.message,
            error.details.field
              ? { field: error.details.field, errorKind: error.kind }
              : { errorKind: error.kind },
          );
        }
        throw error;
      }
    };
    const audited = (result: ConnectorActionResult): AuditEntry => ({
      action: 'runConnectorAction',
      subjectType: 'Connector',
      subjectId: connector.id,
      projectId: connector.projectId,
      // Field names only: the values (ticket text, contact details) are vendor data, not the act, and
      // this table is never purged.
      after: {
        action: action.name,
        inputFields: Object.keys(values).filter((k) => values[k] !== undefined),
        externalId: result.externalId,
        stream: result.stream,
      },
    });
    if (input.idempotencyKey == null) {
      const result = await run();
      return this.work.run(ctx, async (tx) => {
        tx.audit(audited(result));
        return result;
      });
    }
    // The key is claimed in the database before the vendor is called, so concurrent calls with one key
    // reach the vendor once and all get its answer; the adapters also pass the key to the vendor, which
    // makes a retry after a claim abandoned by a dead process safe (see UnitOfWork.once).
    const request = { connector: connector.id, action: action.name, input: values };
    const claim = { operation: 'runConnectorAction', key: input.idempotencyKey, args: request };
    return this.work.once(ctx, claim, run, async (tx, result) => tx.audit(audited(result)));
  }

  private definitionOf(connector: Connector): ConnectorDefinition {
    const definition = this.registry.get(connector.kind);
    if (!definition) throw new ConflictError(`this hub has no ${connector.kind} adapter`);
    return definition;
  }

  private open(connector: Connector) {
    const definition = this.definitionOf(connector);
    return definition.open(
      connector.config as never,
      this.box.open(connector.secretsCiphertext, connector.id),
      this.env,
    );
  }

  private validSecrets(
    definition: ConnectorDefinition,
    input: unknown,
    partial: boolean,
  ): Record<string, string> {
    const fields = partial
      ? definition.spec.secrets.map((f) => ({ ...f, required: false }))
      : definition.spec.secrets;
    const values = validInput(fields, input, 'secrets');
    const secrets: Record<string, string> = {};
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (typeof value !== 'string') throw new BadInputError(`secrets.${name}`, 'must be a string');
      secrets[name] = value;
    }
    return secrets;
  }

  private notify(): void {
    for (const listener of this.changed) listener();
  }
}

/** Connector-side validation, surfaced as BAD_USER_INPUT naming the field (values never echoed). */
function validInput(fields: FieldSpec[], input: unknown, prefix: string) {
  try {
    return validateFields(fields, input ?? {}, prefix);
  } catch (error) {
    if (error instanceof ConnectorError && error.details.field) {
      throw new BadInputError(error.details.field, error.message.slice(error.details.field.length + 2));
    }
    throw error;
  }
}

function validSchedule(schedule: string | null | undefined): string | null {
  if (schedule == null) return null;
  if (!cron.validate(schedule))
    throw new BadInputError('schedule', 'is not a cron pattern (e.g. "*/15 * * * *")');
  return schedule;
}

function fieldInfo(f: FieldSpec): ConnectorField {
  return {
    name: f.name,
    type: f.type,
    description: f.description,
    required: Boolean(f.required),
    default: f.default === undefined ? null : { value: f.default },
    oneOf: f.oneOf ?? null,
  };
}

/** A connector change for the audit trail: config, schedule and which secrets changed, never their values. */
function connectorAudit(
  action: string,
  after: Connector,
  before: Connector | null,
  secretsSet: string[] = [],
): AuditEntry {
  const view = (c: Connector) => ({
    name: c.name,
    kind: c.kind,
    config: c.config,
    schedule: c.schedule,
    enabled: c.enabled,
    secretNames: c.secretNames,
  });
  return {
    action,
    subjectType: 'Connector',
    subjectId: after.id,
    projectId: after.projectId,
    before: before ? view(before) : null,
    after: { ...view(after), ...(secretsSet.length ? { secretsSet } : {}) },
  };
}
