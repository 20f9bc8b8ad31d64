import { ConnectorError } from '../../../connectors/_shared';
import { BadInputError, ConflictError, DomainError, ErrorCode } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { RequestContext } from '../../context/context';
import type { ConnectorService } from '../connectors/connector.service';
import type { PredictionService } from '../predictions/prediction.service';
import { RunKind } from '../runs/run.enums';
import type { RunService } from '../runs/run.service';
import { compilePlan, stepState, type CompiledPlan } from './automation-plan';
import {
  AutomationStepKind,
  AutomationStepStatus,
  type Automation,
  type AutomationStep,
  type AutomationStepRun,
} from './automation.entity';
import type { AutomationTest } from './automation.types';
import { ExpressionError, truthy } from './expressions';
import type { WebhookSender } from './webhook-sender';

/** Why a step failed: TEMPORARY is retried (after `retryAfterMs` when the other side said), PERMANENT ends the run. */
export class StepError extends Error {
  constructor(
    readonly kind: 'TEMPORARY' | 'PERMANENT',
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Where a step runs: which run and step (its idempotency key), in which project, on which document. */
export interface StepScope {
  automation: Automation;
  runId: string;
  index: number;
  /** The trigger document and the outputs of the steps before. */
  document: Record<string, unknown>;
}

export interface AutomationStepsDeps {
  logger: Logger;
  predictions: PredictionService;
  connectors: ConnectorService;
  runs: RunService;
  webhooks: WebhookSender;
}

/**
 * What each kind of step does, for a run or for a dry run. A step with an effect outside the hub carries
 * an idempotency key derived from the run and the step (`automation-run:<run>:<step>`), claimed in the
 * database before the call and passed to the vendor, so a run resumed after a crash repeats no effect.
 */
export class AutomationSteps {
  private readonly plans = new Map<string, CompiledPlan>();
  private readonly logger: Logger;
  private readonly predictions: PredictionService;
  private readonly connectors: ConnectorService;
  private readonly runs: RunService;
  private readonly webhooks: WebhookSender;

  constructor(deps: AutomationStepsDeps) {
    this.logger = deps.logger;
    this.predictions = deps.predictions;
    this.connectors = deps.connectors;
    this.runs = deps.runs;
    this.webhooks = deps.webhooks;
  }

  /** The automation's expressions, compiled once per version. */
  plan(automation: Automation): CompiledPlan {
    const key = `${automation.id}:${automation.version}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = compilePlan(automation.trigger, automation.steps);
      if (this.plans.size > 1_000) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** The context a run acts in: the hub itself, named after the automation, limited to its project. */
  context(automation: Automation, runId: string): RequestContext {
    return RequestContext.system(this.logger, `automation:${automation.name}`, `automation-run:${runId}`, [
      automation.projectId,
    ]);
  }

  /** Refuses an action the connector's kind does not have (BAD_USER_INPUT on `field`). */
  checkAction(field: string, kind: AutomationStepKind, connectorKind: string, action: string): void {
    const found = this.connectors.kinds().find((k) => k.kind === connectorKind);
    const actions = found?.actions.map((a) => a.name) ?? [];
    if (!actions.includes(action))
      throw new BadInputError(
        field,
        `${connectorKind} has ${actions.length ? actions.join(', ') : 'no actions'} (${kind})`,
      );
  }

  /** Whether a trigger document starts a run: the filter, if any, is true; one that fails says why, in the log. */
  async matches(automation: Automation, document: Record<string, unknown>): Promise<boolean> {
    const { filter } = this.plan(automation);
    if (!filter) return true;
    try {
      return truthy(await filter.evaluate(document));
    } catch (error) {
      this.logger.warn('automation filter failed; no run started', {
        automation: automation.id,
        error: classify(error).message,
      });
      return false;
    }
  }

  /** Whether a step should run on this document: its `when`, if any, is true. */
  async applies(plan: CompiledPlan, index: number, document: unknown): Promise<boolean> {
    const when = plan.steps[index].when;
    return when ? truthy(await this.evaluate(() => when.evaluate(document))) : true;
  }

  /** The step's input from the document (and earlier outputs). */
  async input(plan: CompiledPlan, index: number, document: unknown): Promise<unknown> {
    const expression = plan.steps[index].input;
    return expression ? this.evaluate(() => expression.evaluate(document)) : document;
  }

  /** Carries out one step with its input; its output, a JSON object. */
  async execute(step: AutomationStep, input: unknown, scope: StepScope): Promise<Record<string, unknown>> {
    const ctx = this.context(scope.automation, scope.runId);
    const key = `automation-run:${scope.runId}:${scope.index}`;
    try {
      switch (step.kind) {
        case AutomationStepKind.CONDITION:
          return { value: truthy(input) };
        case AutomationStepKind.PREDICT: {
          const prediction = await this.predictions.predict(ctx, predictArgs(step, input, scope.document));
          return { ...prediction };
        }
        case AutomationStepKind.CONNECTOR_ACTION:
          return { ...(await this.act(ctx, step, input, key)) };
        case AutomationStepKind.TRIGGER_PIPELINE: {
          const result = await this.act(ctx, step, input, key);
          // The pipeline's run, as a Nerve run whose externalRef is the orchestrator's id: lineage shows
          // what the pipeline registers, and what started it (tags).
          const run = await this.runs.start(ctx, {
            project: scope.automation.projectId,
            name: `${scope.automation.name}.${step.name}`,
            kind: RunKind.TRAINING,
            externalRef: result.externalId,
            params: object('input', input),
            tags: {
              automation: scope.automation.name,
              automationRun: scope.runId,
              orchestrator: String(step.settings.action),
            },
            queued: true,
          });
          return { ...result, runId: run.id };
        }
        case AutomationStepKind.WEBHOOK: {
          const delivery = await this.webhooks.send(
            scope.automation.id,
            String(step.settings.url),
            key,
            input,
          );
          return { ...delivery };
        }
      }
    } catch (error) {
      throw classify(error);
    }
  }

  /** The step's connector action with the step's idempotency key. */
  private act(ctx: RequestContext, step: AutomationStep, input: unknown, key: string) {
    return this.connectors.act(ctx, {
      connector: String(step.settings.connector),
      action: String(step.settings.action),
      input: object('input', input),
      idempotencyKey: key,
    });
  }

  /** A dry run: the filter, then each step's input and what it would give, with no effect. */
  async dryRun(automation: Automation, document: Record<string, unknown>): Promise<AutomationTest> {
    const plan = this.plan(automation);
    const steps: AutomationStepRun[] = [];
    const matched = plan.filter ? truthy(await this.evaluate(() => plan.filter!.evaluate(document))) : true;
    const outputs: Record<string, unknown> = {};
    const scope = { ...document, steps: outputs };
    let stopped = !matched;
    for (const [index, { step }] of plan.steps.entries()) {
      const run = stepState(step, AutomationStepStatus.SKIPPED);
      steps.push(run);
      if (stopped) continue;
      try {
        if (!(await this.applies(plan, index, scope))) continue;
        const input = await this.input(plan, index, scope);
        run.input = asObject(input);
        run.output = await this.preview(automation, step, input, scope);
        run.status = AutomationStepStatus.SUCCEEDED;
        outputs[step.name] = run.output;
        if (step.kind === AutomationStepKind.CONDITION && run.output.value === false) stopped = true;
      } catch (error) {
        const failed = classify(error);
        Object.assign(run, {
          status: AutomationStepStatus.FAILED,
          error: failed.message,
          errorKind: failed.kind,
        });
        stopped = true;
      }
    }
    return { matched, steps };
  }

  /** What a step would give, without its effect: a prediction not logged; an action or call not made. */
  private async preview(
    automation: Automation,
    step: AutomationStep,
    input: unknown,
    document: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    switch (step.kind) {
      case AutomationStepKind.CONDITION:
        return { value: truthy(input) };
      case AutomationStepKind.PREDICT: {
        const ctx = this.context(automation, 'dry-run');
        return { ...(await this.predictions.predictDry(ctx, predictArgs(step, input, document))) };
      }
      default:
        return { dryRun: true, wouldCall: step.kind, settings: step.settings, input: asObject(input) };
    }
  }

  private async evaluate<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classify(error);
    }
  }
}

/** A PREDICT step's arguments: `{input, requestKey?}` from its mapping; the key defaults to the record's id. */
function predictArgs(step: AutomationStep, value: unknown, document: Record<string, unknown>) {
  const mapped = object('input', value);
  const input = object('input.input', mapped.input);
  const record = document.record as { externalId?: unknown } | undefined;
  const requestKey =
    mapped.requestKey != null
      ? String(mapped.requestKey)
      : record?.externalId != null
        ? String(record.externalId)
        : null;
  return { endpoint: String(step.settings.endpoint), input, requestKey };
}

function object(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new StepError('PERMANENT', `${field} must evaluate to an object`);
  return value as Record<string, unknown>;
}

/** A step's input or output as stored: an object as it is, anything else as `{ value }`. */
export function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value };
}

/**
 * A failure as a step error: the hub's own refusals and expression errors are PERMANENT (a retry would
 * fail the same way); UNAVAILABLE (a vendor or model server down, the database gone) and anything
 * unexpected are TEMPORARY, with the wait the other side asked for.
 */
export function classify(error: unknown): StepError {
  if (error instanceof StepError) return error;
  if (error instanceof ExpressionError) return new StepError('PERMANENT', error.message);
  if (error instanceof ConnectorError)
    return new StepError(error.kind, error.message, error.details.retryAfterMs);
  if (error instanceof DomainError) {
    const extensions = error.extensions as { errorKind?: string; retryAfterSeconds?: number; field?: string };
    const temporary =
      error.code === ErrorCode.UNAVAILABLE ||
      error.code === ErrorCode.RATE_LIMITED ||
      extensions.errorKind === 'TEMPORARY' ||
      (error instanceof ConflictError && /in progress|wait/.test(error.message));
    const where = extensions.field ? ` (${extensions.field})` : '';
    return new StepError(
      temporary ? 'TEMPORARY' : 'PERMANENT',
      `${error.code}: ${error.message}${where}`,
      extensions.retryAfterSeconds != null ? extensions.retryAfterSeconds * 1000 : undefined,
    );
  }
  return new StepError('TEMPORARY', error instanceof Error ? error.message : String(error));
}
