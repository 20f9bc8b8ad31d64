import type { DataSource } from 'typeorm';
import { ConnectorError, type ConnectorDefinition, type ConnectorEnv } from '../../../connectors/_shared';
import { ConflictError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { tryLock } from '../../db/advisory-lock';
import { instantOrNull } from '../../events/catalogue';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import { AlertKind, AlertSeverity } from '../alerts/alert.enums';
import type { AlertService } from '../alerts/alert.service';
import { RequestContext } from '../../context/context';
import type { KpiService } from '../kpis/kpi.service';
import {
  type Connector,
  ConnectorErrorKind,
  ConnectorStream,
  SyncRun,
  SyncRunStatus,
  type SyncStreamStatus,
  type SyncTrigger,
} from './connector.entity';
import { emitWritten, writePage } from './record-writer';
import type { SecretBox } from './secret-box';
import type { Platform } from '../../platform/platform';

/** A sync that could not start because one of this connector is running (here or on another replica). */
export class SyncBusy extends Error {}

export interface SyncRunnerDeps extends Platform {
  registry: ReadonlyMap<string, ConnectorDefinition>;
  box: SecretBox;
  kpis: KpiService;
  alerts: AlertService;
  env: ConnectorEnv;
}

/**
 * Runs syncs. One sync per connector at a time across replicas: a session advisory lock held for the
 * whole sync. Each page is written with its stream's new state in one transaction, so a sync that dies
 * resumes after the last page written; records read twice are upserted, never duplicated.
 */
export class SyncRunner {
  private readonly running = new Set<Promise<unknown>>();
  /**
   * Connectors syncing in this process, shared by every hub in it: on the embedded database all
   * connections are one session, where advisory locks are re-entrant and exclude nobody.
   */
  private static readonly active = new Set<string>();

  private readonly db: DataSource;
  private readonly registry: ReadonlyMap<string, ConnectorDefinition>;
  private readonly box: SecretBox;
  private readonly kpis: KpiService;
  private readonly alerts: AlertService;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly env: ConnectorEnv;
  private readonly work: UnitOfWork;

  constructor(deps: SyncRunnerDeps) {
    this.db = deps.db;
    this.registry = deps.registry;
    this.box = deps.box;
    this.kpis = deps.kpis;
    this.alerts = deps.alerts;
    this.logger = deps.logger;
    this.now = deps.now;
    this.env = deps.env;
    this.work = deps.work;
  }

  /**
   * Starts a sync and returns its run (RUNNING) once it is recorded; the sync goes on in the
   * background. Throws SyncBusy when this connector is already syncing.
   */
  async start(
    connector: Connector,
    trigger: SyncTrigger,
    requestedBy: { ctx: RequestContext; idempotencyKey: string | null } | null,
    /** A scheduled tick: busy if a scheduled run started at or after it (another replica took it). */
    tick?: Date,
  ): Promise<{ run: SyncRun; done: Promise<SyncRun> }> {
    // Also kept apart in this process: see `active`.
    if (SyncRunner.active.has(connector.id)) throw new SyncBusy(connector.id);
    SyncRunner.active.add(connector.id);
    try {
      return await this.startLocked(connector, trigger, requestedBy, tick);
    } catch (error) {
      SyncRunner.active.delete(connector.id);
      throw error;
    }
  }

  private async startLocked(
    connector: Connector,
    trigger: SyncTrigger,
    requestedBy: { ctx: RequestContext; idempotencyKey: string | null } | null,
    tick: Date | undefined,
  ): Promise<{ run: SyncRun; done: Promise<SyncRun> }> {
    const lock = await tryLock(this.db, this.logger, 'sync', connector.id);
    if (!lock) throw new SyncBusy(connector.id);
    let run: SyncRun;
    try {
      if (tick) {
        const taken = (await this.db.query(
          `SELECT 1 FROM sync_run WHERE connector_id = $1 AND trigger = 'SCHEDULE' AND started_at >= $2 LIMIT 1`,
          [connector.id, tick],
        )) as unknown[];
        if (taken.length > 0) throw new SyncBusy(connector.id);
      }
      // A sync asked for by someone is audited with its run, in one unit of work.
      const actor = requestedBy?.ctx ?? this.actor(`sync:${connector.id}`);
      run = await this.work.run(actor, async (tx) => {
        const { manager } = tx;
        // Holding the lock, a RUNNING row can only be left by a process that died mid-sync.
        await manager.query(
          `UPDATE sync_run SET status = 'FAILED', error_kind = 'TEMPORARY', finished_at = $2,
                  error = 'the hub running it stopped; the next sync resumes where it left off'
            WHERE connector_id = $1 AND status = 'RUNNING'`,
          [connector.id, this.now()],
        );
        const saved = await manager.save(SyncRun, {
          connectorId: connector.id,
          projectId: connector.projectId,
          trigger,
          status: SyncRunStatus.RUNNING,
          streams: [],
          error: null,
          errorKind: null,
          requestedByKeyId: requestedBy?.ctx.caller.keyId ?? null,
          idempotencyKey: requestedBy?.idempotencyKey ?? null,
          startedAt: this.now(),
          finishedAt: null,
        });
        if (requestedBy) {
          tx.audit({
            action: 'syncConnector',
            subjectType: 'Connector',
            subjectId: connector.id,
            projectId: connector.projectId,
            after: { syncRunId: saved.id },
          });
        }
        emitRun(tx, saved);
        return saved;
      });
    } catch (error) {
      await lock.release();
      throw error;
    }
    const done = this.sync(connector, run, lock.lost).finally(async () => {
      SyncRunner.active.delete(connector.id);
      await lock.release();
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done)).catch(() => undefined);
    return { run, done };
  }

  /** Waits for every sync this process is running (graceful shutdown). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  /** `lost` aborts when the sync's lock went with its session: it stops before the next page. */
  private async sync(connector: Connector, run: SyncRun, lost: AbortSignal): Promise<SyncRun> {
    const actor = this.actor(`sync:${run.id}`);
    const holding = (): void => {
      // Another replica may start this connector's sync now; writing on would interleave with it.
      if (lost.aborted)
        throw new ConnectorError(
          'TEMPORARY',
          'the sync lost its lock with its database session; the next sync resumes where it left off',
        );
    };
    const definition = this.registry.get(connector.kind);
    try {
      if (!definition) throw new ConnectorError('PERMANENT', `this hub has no ${connector.kind} adapter`);
      const secrets = this.box.open(connector.secretsCiphertext, connector.id);
      const session = definition.open(connector.config as never, secrets, this.env);
      const kpiIds = await this.kpis.ensureDerived(
        connector.projectId,
        definition.streams.map((s) => s.recordKind),
      );
      for (const stream of definition.streams) {
        const status: SyncStreamStatus = {
          stream: stream.name,
          status: SyncRunStatus.RUNNING,
          pages: 0,
          records: 0,
          error: null,
          errorKind: null,
        };
        run.streams = [...run.streams, status];
        try {
          holding();
          const saved = await this.db.getRepository(ConnectorStream).findOneBy({
            connectorId: connector.id,
            stream: stream.name,
          });
          for await (const page of session.read(stream.name, saved?.state ?? null)) {
            holding();
            const at = this.now();
            const progress = await this.work.run(actor, async (tx) => {
              const { manager } = tx;
              const written = await writePage(manager, connector, stream, page.records, kpiIds, at);
              const next = { ...status, pages: status.pages + 1, records: status.records + written.records };
              await manager.query(
                `INSERT INTO connector_stream (connector_id, stream, state, records_synced, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (connector_id, stream) DO UPDATE
                    SET state = EXCLUDED.state, records_synced = connector_stream.records_synced + EXCLUDED.records_synced,
                        updated_at = EXCLUDED.updated_at`,
                [connector.id, stream.name, JSON.stringify(page.state), written.records, at],
              );
              const streams = run.streams.map((s) => (s === status ? next : s));
              await manager.update(SyncRun, { id: run.id }, { streams });
              emitWritten(tx, connector, stream, written, run.id);
              emitRun(tx, { ...run, streams });
              return next;
            });
            // Counted once the page is committed: a failed page leaves the counts as they were.
            Object.assign(status, progress);
          }
          status.status = SyncRunStatus.SUCCEEDED;
        } catch (error) {
          Object.assign(status, { status: SyncRunStatus.FAILED, ...this.describe(error, run) });
        }
      }
      const failed = run.streams.filter((s) => s.status === SyncRunStatus.FAILED).length;
      run.status =
        failed === 0
          ? SyncRunStatus.SUCCEEDED
          : failed === run.streams.length
            ? SyncRunStatus.FAILED
            : SyncRunStatus.PARTIAL;
      if (failed > 0) {
        const first = run.streams.find((s) => s.status === SyncRunStatus.FAILED)!;
        run.error = `${first.stream}: ${first.error}`;
        run.errorKind = first.errorKind;
      }
    } catch (error) {
      Object.assign(run, { status: SyncRunStatus.FAILED, ...this.describe(error, run) });
    }
    run.finishedAt = this.now();
    await this.work.run(actor, async (tx) => {
      await tx.manager.update(
        SyncRun,
        { id: run.id },
        {
          status: run.status,
          streams: run.streams,
          error: run.error,
          errorKind: run.errorKind,
          finishedAt: run.finishedAt,
        },
      );
      emitRun(tx, run);
    });
    await this.alert(connector, run, actor).catch((error: unknown) =>
      this.logger.error('connector alert not raised', { connector: connector.id, error }),
    );
    return run;
  }

  /** A failure as users see it: a connector's own message, or a generic one (the details go to the log). */
  private describe(error: unknown, run: SyncRun): { error: string; errorKind: ConnectorErrorKind } {
    if (error instanceof ConnectorError) {
      return { error: error.message, errorKind: error.kind as ConnectorErrorKind };
    }
    if (error instanceof ConflictError)
      return { error: error.message, errorKind: ConnectorErrorKind.PERMANENT };
    this.logger.error('sync failed', { run: run.id, error });
    return { error: `internal error (hub log, sync run ${run.id})`, errorKind: ConnectorErrorKind.TEMPORARY };
  }

  private async alert(connector: Connector, run: SyncRun, actor: RequestContext): Promise<void> {
    const dedupeKey = `connector:${connector.id}`;
    if (run.status === SyncRunStatus.SUCCEEDED) {
      await this.alerts.clear(dedupeKey, actor);
      return;
    }
    await this.alerts.raise(
      {
        projectId: connector.projectId,
        kind: AlertKind.CONNECTOR,
        severity:
          run.errorKind === ConnectorErrorKind.PERMANENT ? AlertSeverity.CRITICAL : AlertSeverity.WARNING,
        dedupeKey,
        title: `Connector ${connector.name} (${connector.kind}): sync ${run.status.toLowerCase()}`,
        evidence: {
          connectorId: connector.id,
          syncRunId: run.id,
          error: run.error,
          errorKind: run.errorKind,
          streams: run.streams.map((s) => ({ stream: s.stream, status: s.status, error: s.error })),
        },
      },
      actor,
    );
  }

  /** The hub's sync actor, named in the audit trail and the events of one sync. */
  private actor(requestId: string): RequestContext {
    return RequestContext.system(this.logger, 'sync-runner', requestId);
  }
}

/** A run's state as `syncRunChanged` delivers it. */
function emitRun(tx: Change, run: SyncRun): void {
  tx.emit({
    type: 'sync-run.changed',
    stream: `connector:${run.connectorId}`,
    projectId: run.projectId,
    payload: {
      projectId: run.projectId,
      connectorId: run.connectorId,
      run: {
        id: run.id,
        connectorId: run.connectorId,
        projectId: run.projectId,
        trigger: run.trigger,
        status: run.status,
        streams: run.streams.map((s) => ({ ...s })),
        error: run.error,
        errorKind: run.errorKind,
        requestedByKeyId: run.requestedByKeyId,
        idempotencyKey: run.idempotencyKey,
        startedAt: run.startedAt.toISOString(),
        finishedAt: instantOrNull(run.finishedAt),
      },
    },
  });
}
