import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { BadInputError, ConflictError, NotFoundError, fromDatabaseError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import { requireId, requireSlug, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import type { AuditEntry } from '../../platform/audit/audit-trail';
import type { Outbox } from '../../platform/outbox/outbox';
import type { Platform } from '../../platform/platform';
import type { Change, UnitOfWork } from '../../platform/unit-of-work';
import { connectorInProject } from '../connectors/connector.repository';
import { endpointInProject } from '../endpoints/endpoint.repository';
import type { ProjectService } from '../projects/project.service';
import { checkPlan, type CheckedPlan } from './automation-plan';
import { emitRun } from './automation-runner';
import type { AutomationSteps } from './automation-steps';
import type { WebhookSender } from './webhook-sender';
import {
  Automation,
  AutomationRun,
  AutomationRunStatus,
  AutomationStatus,
  AutomationStepStatus,
  AutomationStepKind,
  AutomationTriggerKind,
  type AutomationStep,
  type AutomationTrigger,
} from './automation.entity';
import type {
  AutomationRunsArgs,
  AutomationsArgs,
  AutomationTest,
  CreateAutomationInput,
  UpdateAutomationInput,
} from './automation.types';

const MAX_CONCURRENT_RUNS = 64;
const MAX_ATTEMPTS = 20;

export interface AutomationServiceDeps extends Pick<Platform, 'db' | 'now' | 'work'> {
  projects: ProjectService;
  outbox: Outbox;
  steps: AutomationSteps;
  webhooks: WebhookSender;
}

/** Automations: their definitions (audited, versioned), their runs, and dry runs. */
export class AutomationService {
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly work: UnitOfWork;
  private readonly projects: ProjectService;
  private readonly outbox: Outbox;
  private readonly steps: AutomationSteps;
  private readonly webhooks: WebhookSender;
  /** Called after an automation is created or changed (the worker re-reads its schedules). */
  readonly changed: Array<() => void> = [];

  constructor(deps: AutomationServiceDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.work = deps.work;
    this.projects = deps.projects;
    this.outbox = deps.outbox;
    this.steps = deps.steps;
    this.webhooks = deps.webhooks;
  }

  async create(ctx: RequestContext, input: CreateAutomationInput): Promise<Automation> {
    const project = await this.projects.resolve(ctx, input.project, 'Automation');
    ctx.authorize('create', 'Automation', project.id);
    const name = requireSlug('name', input.name);
    const plan = checkPlan(input.trigger, input.steps);
    const at = this.now();
    const creating = { operation: 'createAutomation', key: input.idempotencyKey, args: input };
    try {
      return await this.work.create(ctx, { ...creating, entity: Automation }, async (tx) => {
        const automation: Automation = {
          id: randomUUID(),
          projectId: project.id,
          name,
          description: optionalText('description', input.description),
          status: AutomationStatus.ACTIVE,
          ...(await this.resolved(tx.manager, project.id, plan)),
          maxConcurrentRuns: bounded('maxConcurrentRuns', input.maxConcurrentRuns, 4, MAX_CONCURRENT_RUNS),
          maxAttempts: bounded('maxAttempts', input.maxAttempts, 5, MAX_ATTEMPTS),
          // Events committed before the automation existed start nothing.
          sincePosition: Number(await this.outbox.head(tx.manager)),
          version: 1,
          createdAt: at,
          updatedAt: at,
        };
        await tx.manager.insert(Automation, automation as never);
        tx.audit(audit('createAutomation', automation, null));
        tx.afterCommit(() => this.notify());
        return automation;
      });
    } catch (error) {
      if (fromDatabaseError(error) instanceof ConflictError)
        throw new ConflictError(`an automation named "${name}" already exists in this project`, 'name');
      throw error;
    }
  }

  async update(ctx: RequestContext, input: UpdateAutomationInput): Promise<Automation> {
    const automation = await this.byId(ctx, input.automation, 'automation');
    ctx.authorize('update', 'Automation', automation.projectId);
    const plan =
      input.trigger != null || input.steps != null
        ? checkPlan(input.trigger ?? triggerInput(automation.trigger), input.steps ?? automation.steps)
        : null;
    return this.change(ctx, automation, 'updateAutomation', async (tx, current) => ({
      ...(plan ? await this.resolved(tx.manager, current.projectId, plan) : {}),
      ...(input.description !== undefined
        ? { description: optionalText('description', input.description) }
        : {}),
      ...(input.maxConcurrentRuns != null
        ? { maxConcurrentRuns: bounded('maxConcurrentRuns', input.maxConcurrentRuns, 4, MAX_CONCURRENT_RUNS) }
        : {}),
      ...(input.maxAttempts != null
        ? { maxAttempts: bounded('maxAttempts', input.maxAttempts, 5, MAX_ATTEMPTS) }
        : {}),
    }));
  }

  /** Pauses (no new runs; runs under way finish) or resumes an automation. */
  async setStatus(ctx: RequestContext, id: string, status: AutomationStatus): Promise<Automation> {
    const automation = await this.byId(ctx, id, 'automation');
    ctx.authorize('update', 'Automation', automation.projectId);
    const action = status === AutomationStatus.PAUSED ? 'pauseAutomation' : 'resumeAutomation';
    return this.change(ctx, automation, action, async () => ({ status }));
  }

  async byId(ctx: RequestContext, id: string, field = 'id'): Promise<Automation> {
    const automationId = requireId(field, id);
    const automation = await this.db.getRepository(Automation).findOneBy({ id: automationId });
    if (!automation || !ctx.can('read', 'Automation', automation.projectId))
      throw new NotFoundError('Automation', automationId);
    return automation;
  }

  async list(ctx: RequestContext, args: AutomationsArgs): Promise<ConnectionResult<Automation>> {
    const project = await this.projects.resolve(ctx, args.project, 'Automation');
    const qb = this.db
      .getRepository(Automation)
      .createQueryBuilder('a')
      .where('a.projectId = :projectId', { projectId: project.id });
    return paginate(qb, args);
  }

  async runs(ctx: RequestContext, args: AutomationRunsArgs): Promise<ConnectionResult<AutomationRun>> {
    const automation = await this.byId(ctx, args.automation, 'automation');
    const qb = this.db
      .getRepository(AutomationRun)
      .createQueryBuilder('r')
      .where('r.automationId = :id', { id: automation.id });
    if (args.statuses?.length) qb.andWhere('r.status IN (:...statuses)', { statuses: args.statuses });
    return paginate(qb, args);
  }

  async run(ctx: RequestContext, id: string): Promise<AutomationRun> {
    const runId = requireId('id', id);
    const run = await this.db.getRepository(AutomationRun).findOneBy({ id: runId });
    if (!run || !ctx.can('read', 'Automation', run.projectId))
      throw new NotFoundError('AutomationRun', runId);
    return run;
  }

  /**
   * Redelivers a FAILED run (its dead letter): back to PENDING with its attempts reset, carried out from
   * the step that failed, with that step's same idempotency key (a vendor or receiver that did act on
   * the failed attempt sees a repeat, not a new request). Finished steps are not run again.
   */
  async retryRun(ctx: RequestContext, id: string, reason?: string | null): Promise<AutomationRun> {
    const found = await this.run(ctx, id);
    ctx.authorize('operate', 'Automation', found.projectId);
    const why = optionalText('reason', reason);
    return this.work.run(ctx, async (tx) => {
      const run = await tx.manager
        .getRepository(AutomationRun)
        .findOne({ where: { id: found.id }, lock: { mode: 'pessimistic_write' } });
      if (!run || run.status !== AutomationRunStatus.FAILED)
        throw new ConflictError(
          `run ${found.id} is ${run?.status ?? 'gone'}: only a FAILED run is retried`,
          'id',
        );
      const failed = run.steps.find((s) => s.status === AutomationStepStatus.FAILED);
      Object.assign(run, {
        status: AutomationRunStatus.PENDING,
        attempts: 0,
        nextAttemptAt: this.now(),
        leaseUntil: null,
        leaseToken: null,
        finishedAt: null,
      });
      if (failed) failed.status = AutomationStepStatus.PENDING;
      await tx.manager.save(AutomationRun, run);
      tx.audit({
        action: 'retryAutomationRun',
        subjectType: 'AutomationRun',
        subjectId: run.id,
        projectId: run.projectId,
        before: { status: AutomationRunStatus.FAILED, error: run.error, errorKind: run.errorKind },
        after: { status: run.status, reason: why },
      });
      emitRun(tx, run);
      return run;
    });
  }

  /**
   * A dry run on a trigger document given by the caller: the filter, then each step's input and what it
   * would do, with no side effect (PREDICT scores without logging; actions and webhooks are not called).
   */
  async test(ctx: RequestContext, id: string, document: Record<string, unknown>): Promise<AutomationTest> {
    const automation = await this.byId(ctx, id, 'automation');
    ctx.authorize('operate', 'Automation', automation.projectId);
    return this.steps.dryRun(automation, document);
  }

  /**
   * The automation's signing secret (`whsec_…`): what a receiver of its WEBHOOK steps verifies with, and
   * what a sender to its WEBHOOK trigger signs with. Derived from NERVE_SECRET_KEY: the same on every
   * replica, never stored.
   */
  async signingSecret(ctx: RequestContext, id: string): Promise<string> {
    const automation = await this.byId(ctx, id);
    ctx.authorize('update', 'Automation', automation.projectId);
    if (!this.webhooks.available)
      throw new ConflictError('this hub has no NERVE_SECRET_KEY: it cannot sign webhooks');
    return this.webhooks.secretFor(automation.id);
  }

  private notify(): void {
    for (const listener of this.changed) listener();
  }

  /** Reads the automation under a row lock, applies `patch`, bumps the version, audits and emits. */
  private async change(
    ctx: RequestContext,
    automation: Automation,
    action: string,
    patch: (tx: Change, current: Automation) => Promise<Partial<Automation>>,
  ): Promise<Automation> {
    return this.work.run(ctx, async (tx) => {
      const current = await tx.manager
        .getRepository(Automation)
        .findOne({ where: { id: automation.id }, lock: { mode: 'pessimistic_write' } });
      if (!current) throw new NotFoundError('Automation', automation.id);
      const next: Automation = {
        ...current,
        ...(await patch(tx, current)),
        version: current.version + 1,
        updatedAt: this.now(),
      };
      await tx.manager.save(Automation, next);
      tx.audit(audit(action, next, current));
      tx.afterCommit(() => this.notify());
      return next;
    });
  }

  /** The plan with what it names resolved in the project: the trigger's connector and each step's. */
  private async resolved(
    manager: EntityManager,
    projectId: string,
    plan: CheckedPlan,
  ): Promise<{ trigger: AutomationTrigger; steps: AutomationStep[] }> {
    const { connector, ...trigger } = plan.trigger;
    if (!this.webhooks.available) {
      if (trigger.kind === AutomationTriggerKind.WEBHOOK)
        throw new BadInputError('trigger.kind', 'WEBHOOK triggers need NERVE_SECRET_KEY (signatures)');
      const signed = plan.steps.findIndex((s) => s.kind === AutomationStepKind.WEBHOOK);
      if (signed >= 0)
        throw new BadInputError(`steps.${signed}.kind`, 'WEBHOOK steps need NERVE_SECRET_KEY (signatures)');
    }
    if (connector != null) {
      const found = await connectorInProject(manager, projectId, connector);
      if (!found) throw new BadInputError('trigger.connector', 'names no connector of this project');
      trigger.connectorId = found.id;
    }
    const steps: AutomationStep[] = [];
    for (const [i, step] of plan.steps.entries()) {
      const settings = { ...step.settings };
      if (step.kind === AutomationStepKind.PREDICT) {
        if (!(await endpointInProject(manager, projectId, String(settings.endpoint))))
          throw new BadInputError(`steps.${i}.settings.endpoint`, 'names no endpoint of this project');
      }
      if (settings.connector !== undefined) {
        const found = await connectorInProject(manager, projectId, String(settings.connector));
        if (!found)
          throw new BadInputError(`steps.${i}.settings.connector`, 'names no connector of this project');
        this.steps.checkAction(`steps.${i}.settings.action`, step.kind, found.kind, String(settings.action));
        settings.connector = found.id;
      }
      steps.push({ ...step, settings });
    }
    return { trigger, steps };
  }
}

/** A stored trigger as the input that would make it (an update that changes only the steps keeps it). */
function triggerInput(trigger: AutomationTrigger) {
  const { connectorId, ...rest } = trigger;
  return { ...rest, connector: connectorId ?? null };
}

function optionalText(field: string, value: string | null | undefined): string | null {
  return value == null ? null : requireText(field, value, 2_000);
}

function bounded(field: string, value: number | null | undefined, fallback: number, max: number): number {
  if (value == null) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new BadInputError(field, `must be an integer from 1 to ${max}`);
  return value;
}

function audit(action: string, after: Automation, before: Automation | null): AuditEntry {
  const shape = (a: Automation) => ({
    name: a.name,
    status: a.status,
    trigger: a.trigger,
    steps: a.steps,
    maxConcurrentRuns: a.maxConcurrentRuns,
    maxAttempts: a.maxAttempts,
    version: a.version,
  });
  return {
    action,
    subjectType: 'Automation',
    subjectId: after.id,
    projectId: after.projectId,
    before: before && shape(before),
    after: shape(after),
  };
}
