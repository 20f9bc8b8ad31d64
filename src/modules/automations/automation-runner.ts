import { randomUUID } from 'node:crypto';
import { In, type DataSource } from 'typeorm';
import { instantOrNull, type AutomationRunJson } from '../../events/catalogue';
import { xactLock } from '../../db/advisory-lock';
import { RequestContext } from '../../context/context';
import type { Platform } from '../../platform/platform';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import { AlertKind, AlertSeverity } from '../alerts/alert.enums';
import type { AlertService } from '../alerts/alert.service';
import { stepState } from './automation-plan';
import type { AutomationSteps } from './automation-steps';
import { asObject, classify, type StepError } from './automation-steps';
import {
  Automation,
  AutomationRun,
  AutomationRunStatus,
  AutomationStepKind,
  AutomationStepStatus,
} from './automation.entity';

export interface AutomationRunnerOptions {
  /** Pause between looks for due runs when there were none (default 100 ms). */
  pollMs?: number;
  /** Runs carried out at once by this process (default 8). */
  parallel?: number;
  /** How long a claim holds a run; a runner that dies leaves it to another after this (default 30 s). */
  leaseMs?: number;
  /** Retry n of a run waits random() × min(retryMaxMs, retryBaseMs × 2^n) unless told (default 1 s, 5 min). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  random?: () => number;
}

export interface AutomationRunnerDeps extends Pick<Platform, 'db' | 'now' | 'logger' | 'work'> {
  steps: AutomationSteps;
  alerts: AlertService;
}

/** Runs in a row that must all have FAILED for an AUTOMATION alert (one success clears it). */
export const FAILURES_FOR_ALERT = 5;

/** Told of each run that ended, after it is committed (metrics). */
export type RunObserver = (automation: Automation, run: AutomationRun) => void;

/** The step kinds with an effect outside the hub, committed before and after they run. */
const EFFECTS: ReadonlySet<AutomationStepKind> = new Set([
  AutomationStepKind.CONNECTOR_ACTION,
  AutomationStepKind.WEBHOOK,
  AutomationStepKind.TRIGGER_PIPELINE,
]);

/** A run's lease was taken over (this runner was too slow, or presumed dead): it stops touching the run. */
class LeaseLost extends Error {}

/**
 * Carries out automation runs, on every replica: claims due runs (PENDING, or RUNNING under an expired
 * lease: its runner died) within each automation's concurrency limit, then runs their steps in order.
 * Each effectful step's start and result are committed before the next step; a finished one is never run again,
 * and a step cut off mid-way (a crash) is run again with the same idempotency key, which the hub and the
 * vendors honour. A TEMPORARY failure puts the run back to PENDING after a backoff (or the wait the
 * other side asked for) until maxAttempts; a PERMANENT one fails it.
 */
export class AutomationRunner {
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly logger: Platform['logger'];
  private readonly work: UnitOfWork;
  private readonly steps: AutomationSteps;
  private readonly pollMs: number;
  private readonly parallel: number;
  private readonly leaseMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly random: () => number;
  private readonly active = new Set<Promise<void>>();
  private readonly alerts: AlertService;
  /** Registered in src/server/observers.ts. */
  readonly observers: RunObserver[] = [];
  private readonly actor: RequestContext;
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private closed = true;
  /** Nudged during a look. */
  private again = false;

  constructor(deps: AutomationRunnerDeps, options: AutomationRunnerOptions = {}) {
    this.db = deps.db;
    this.now = deps.now;
    this.logger = deps.logger;
    this.work = deps.work;
    this.steps = deps.steps;
    this.alerts = deps.alerts;
    this.pollMs = options.pollMs ?? 100;
    this.parallel = options.parallel ?? 8;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.retryMaxMs = options.retryMaxMs ?? 300_000;
    this.random = options.random ?? Math.random;
    this.actor = RequestContext.system(this.logger, 'automation-runner');
  }

  start(): void {
    this.closed = false;
    this.schedule(0);
  }

  /** Looks for due runs now (new ones were inserted), unless a look is under way or no slot is free. */
  nudge(): void {
    if (this.closed) return;
    // Mid-look, the new runs may have committed after the claim's query: look again when it ends.
    if (this.looking) {
      this.again = true;
      return;
    }
    if (this.active.size >= this.parallel) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.looking;
    await Promise.allSettled([...this.active]);
  }

  /**
   * Claims what is due now (of these projects only, when given) and carries it out; resolves when those
   * runs are done. For tests, which share a database and must not carry out each other's runs.
   */
  async drain(projectIds?: string[]): Promise<number> {
    const claimed = await this.claim(this.parallel, projectIds);
    await Promise.all(claimed.map((run) => this.carryOut(run)));
    return claimed.length;
  }

  /** The one next look (a look already planned is replaced, so there is never more than one loop). */
  private schedule(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.looking = this.look().finally(() => (this.looking = undefined));
    }, ms).unref();
  }

  private async look(): Promise<void> {
    let found = 0;
    try {
      const free = this.parallel - this.active.size;
      if (free > 0) {
        const claimed = await this.claim(free);
        found = claimed.length;
        for (const run of claimed) {
          const done: Promise<void> = this.carryOut(run).finally(() => {
            this.active.delete(done);
            // A finished run frees a slot: look again at once.
            if (!this.closed && !this.looking) this.schedule(0);
          });
          this.active.add(done);
        }
      }
    } catch (error) {
      this.logger.warn('automation runs not claimed; trying again', { error });
    }
    const again = this.again;
    this.again = false;
    this.schedule(found > 0 || again ? 0 : this.pollMs);
  }

  /** Takes up to `limit` due runs, within each automation's concurrency limit, under one lock. */
  private async claim(limit: number, projectIds?: string[]): Promise<AutomationRun[]> {
    const now = this.now();
    const until = new Date(now.getTime() + this.leaseMs);
    return this.work.run(this.actor, async (tx) => {
      await xactLock(tx.manager, 'automation', 0);
      const ids = (await tx.manager.query(
        `WITH due AS (
           SELECT r.id, r.automation_id, a.max_concurrent_runs, r.next_attempt_at, r.created_at,
                  row_number() OVER (PARTITION BY r.automation_id ORDER BY r.next_attempt_at, r.created_at) AS n
             FROM automation_run r JOIN automation a ON a.id = r.automation_id
            WHERE r.status IN ('PENDING', 'RUNNING') AND r.next_attempt_at <= $1
              AND (r.lease_until IS NULL OR r.lease_until < $1)
              AND ($3::uuid[] IS NULL OR r.project_id = ANY($3::uuid[]))
         ), busy AS (
           SELECT automation_id, count(*)::int AS n FROM automation_run
            WHERE status = 'RUNNING' AND lease_until >= $1 GROUP BY automation_id
         )
         SELECT due.id FROM due LEFT JOIN busy USING (automation_id)
          WHERE due.n + COALESCE(busy.n, 0) <= due.max_concurrent_runs
          ORDER BY due.next_attempt_at, due.created_at
          LIMIT $2`,
        [now, limit, projectIds ?? null],
      )) as Array<{ id: string }>;
      if (ids.length === 0) return [];
      const runs = await tx.manager.getRepository(AutomationRun).findBy({ id: In(ids.map((r) => r.id)) });
      for (const run of runs) {
        run.status = AutomationRunStatus.RUNNING;
        run.leaseUntil = until;
        run.leaseToken = randomUUID();
        await tx.manager.update(
          AutomationRun,
          { id: run.id },
          { status: run.status, leaseUntil: until, leaseToken: run.leaseToken },
        );
        emitRun(tx, run);
      }
      return runs;
    });
  }

  private async carryOut(run: AutomationRun): Promise<void> {
    try {
      const automation = await this.db.getRepository(Automation).findOneBy({ id: run.automationId });
      if (!automation) return;
      await this.runSteps(automation, run);
    } catch (error) {
      if (error instanceof LeaseLost) {
        this.logger.warn('automation run taken over by another runner', { run: run.id });
        return;
      }
      // The database went away mid-run: the lease runs out and the run is taken up again.
      this.logger.error('automation run interrupted', { run: run.id, error });
    }
  }

  private async runSteps(automation: Automation, run: AutomationRun): Promise<void> {
    const started = run.steps.some((s) => s.status !== AutomationStepStatus.PENDING);
    if (run.automationVersion !== automation.version) {
      if (started)
        return this.finish(
          automation,
          run,
          'PERMANENT',
          'the automation changed while this run was under way',
        );
      run.steps = automation.steps.map((s) => stepState(s));
      run.automationVersion = automation.version;
    }
    const plan = this.steps.plan(automation);
    const outputs: Record<string, unknown> = {};
    const document = { ...run.document, steps: outputs };
    for (const [index, { step }] of plan.steps.entries()) {
      const state = run.steps[index];
      if (state.status === AutomationStepStatus.SUCCEEDED || state.status === AutomationStepStatus.SKIPPED) {
        outputs[step.name] = state.output;
        continue;
      }
      try {
        // Only a step with an effect outside the hub is committed before and after it runs: the rest
        // (a skip, a condition, a prediction, logged once per request key) may simply run again after
        // a crash, and are committed with the next effect or the run's end.
        const effect = EFFECTS.has(step.kind);
        if (!(await this.steps.applies(plan, index, document))) {
          Object.assign(state, { status: AutomationStepStatus.SKIPPED, finishedAt: this.now() });
          continue;
        }
        const input = await this.steps.input(plan, index, document);
        Object.assign(state, {
          status: AutomationStepStatus.RUNNING,
          input: asObject(input),
          attempts: state.attempts + 1,
          startedAt: this.now(),
          error: null,
          errorKind: null,
        });
        if (effect) await this.save(run);
        const output = await this.steps.execute(step, input, { automation, runId: run.id, index, document });
        Object.assign(state, { status: AutomationStepStatus.SUCCEEDED, output, finishedAt: this.now() });
        outputs[step.name] = output;
        if (step.kind === AutomationStepKind.CONDITION && output.value === false) {
          for (const rest of run.steps.slice(index + 1))
            Object.assign(rest, { status: AutomationStepStatus.SKIPPED, finishedAt: this.now() });
          break;
        }
        if (effect) await this.save(run);
      } catch (error) {
        if (error instanceof LeaseLost) throw error;
        const failed = classify(error);
        Object.assign(state, {
          // A step that failed before its call (its mapping) made an attempt too.
          attempts: state.status === AutomationStepStatus.RUNNING ? state.attempts : state.attempts + 1,
          status: AutomationStepStatus.FAILED,
          error: failed.message,
          errorKind: failed.kind,
          finishedAt: this.now(),
        });
        return this.fail(automation, run, failed);
      }
    }
    await this.finish(automation, run, null, null);
  }

  /** A failed step: retried later when TEMPORARY and attempts remain, else the run fails. */
  private async fail(automation: Automation, run: AutomationRun, error: StepError): Promise<void> {
    run.attempts += 1;
    if (error.kind === 'PERMANENT' || run.attempts >= automation.maxAttempts)
      return this.finish(automation, run, error.kind, error.message);
    const backoff = Math.floor(
      this.random() * Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (run.attempts - 1)),
    );
    run.status = AutomationRunStatus.PENDING;
    run.nextAttemptAt = new Date(this.now().getTime() + Math.max(backoff, error.retryAfterMs ?? 0));
    run.error = error.message;
    run.errorKind = error.kind;
    await this.save(run, true);
  }

  /**
   * Ends the run. Its automation's AUTOMATION alert is raised when the last {@link FAILURES_FOR_ALERT}
   * runs all failed, and cleared as runs succeed again, in the same transaction.
   */
  private async finish(
    automation: Automation,
    run: AutomationRun,
    errorKind: string | null,
    error: string | null,
  ): Promise<void> {
    run.status = error === null ? AutomationRunStatus.SUCCEEDED : AutomationRunStatus.FAILED;
    run.error = error;
    run.errorKind = errorKind;
    run.finishedAt = this.now();
    const dedupeKey = `automation:${automation.id}`;
    await this.save(run, true, async (tx) => {
      if (run.status === AutomationRunStatus.SUCCEEDED) {
        await this.alerts.clearIn(tx, dedupeKey);
        return;
      }
      const last = (await tx.manager.query(
        `SELECT status FROM automation_run WHERE automation_id = $1 AND finished_at IS NOT NULL
          ORDER BY finished_at DESC LIMIT $2`,
        [automation.id, FAILURES_FOR_ALERT],
      )) as Array<{ status: string }>;
      if (last.length === FAILURES_FOR_ALERT && last.every((r) => r.status === AutomationRunStatus.FAILED))
        await this.alerts.raiseIn(tx, {
          projectId: automation.projectId,
          kind: AlertKind.AUTOMATION,
          severity: AlertSeverity.WARNING,
          dedupeKey,
          title: `automation ${automation.name}: its last ${FAILURES_FOR_ALERT} runs failed`,
          evidence: { automationId: automation.id, lastRun: run.id, error, errorKind },
        });
    });
    for (const observe of this.observers) observe(automation, run);
  }

  /** Writes the run's state (and hands it back when `release`), only while this runner holds its lease. */
  private async save(
    run: AutomationRun,
    release = false,
    alongside?: (tx: Change) => Promise<void>,
  ): Promise<void> {
    const token = run.leaseToken;
    const until = release ? null : new Date(this.now().getTime() + this.leaseMs);
    await this.work.run(this.actor, async (tx) => {
      const result = await tx.manager
        .createQueryBuilder()
        .update(AutomationRun)
        .set({
          status: run.status,
          steps: run.steps as never,
          automationVersion: run.automationVersion,
          attempts: run.attempts,
          nextAttemptAt: run.nextAttemptAt,
          error: run.error,
          errorKind: run.errorKind,
          finishedAt: run.finishedAt,
          leaseUntil: until,
          leaseToken: release ? null : token,
        })
        .where('id = :id AND lease_token = :token', { id: run.id, token })
        .execute();
      if (result.affected === 0) throw new LeaseLost();
      emitRun(tx, run);
      await alongside?.(tx);
    });
    run.leaseUntil = until;
    if (release) run.leaseToken = null;
  }
}

/** The run as the automation-run.changed event carries it (no trigger document, no step data). */
export function automationRunJson(run: AutomationRun): AutomationRunJson {
  return {
    id: run.id,
    automationId: run.automationId,
    projectId: run.projectId,
    triggerKey: run.triggerKey,
    automationVersion: run.automationVersion,
    status: run.status,
    steps: run.steps.map((s) => ({
      name: s.name,
      kind: s.kind,
      status: s.status,
      error: s.error,
      errorKind: s.errorKind,
      attempts: s.attempts,
      startedAt: instantOrNull(s.startedAt ? new Date(s.startedAt) : null),
      finishedAt: instantOrNull(s.finishedAt ? new Date(s.finishedAt) : null),
    })),
    attempts: run.attempts,
    nextAttemptAt: new Date(run.nextAttemptAt).toISOString(),
    error: run.error,
    errorKind: run.errorKind,
    createdAt: new Date(run.createdAt).toISOString(),
    finishedAt: instantOrNull(run.finishedAt ? new Date(run.finishedAt) : null),
  };
}

/** Tells subscribers (automationRunChanged) how the run stands, when the change commits. */
export function emitRun(tx: Change, run: AutomationRun): void {
  tx.emit({
    type: 'automation-run.changed',
    stream: `automation-run:${run.id}`,
    projectId: run.projectId,
    payload: { projectId: run.projectId, automationId: run.automationId, run: automationRunJson(run) },
  });
}
