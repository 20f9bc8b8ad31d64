import type { DataSource } from 'typeorm';
import type { WebhookRequest } from '../../../connectors/_shared';
import type { Logger } from '../../common/logger';
import { refuseWebhook, type WebhookAnswer } from '../../common/webhook-answer';
import { verifyWebhook } from '../../common/standard-webhooks';
import { isUuid } from '../../common/validate';
import { RequestContext } from '../../context/context';
import type { Platform } from '../../platform/platform';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { newRun } from './automation-dispatcher';
import { emitRun } from './automation-runner';
import type { AutomationSteps } from './automation-steps';
import { Automation, AutomationRun, AutomationStatus, AutomationTriggerKind } from './automation.entity';
import type { WebhookSender } from './webhook-sender';

export interface AutomationTriggersDeps extends Pick<Platform, 'db' | 'now' | 'logger' | 'work'> {
  steps: AutomationSteps;
  webhooks: WebhookSender;
}

/**
 * The triggers that are not domain events: cron ticks (SCHEDULE) and signed requests from any system
 * (WEBHOOK). Each occurrence starts at most one run: a tick is named by its instant, a request by its
 * webhook-id, and the run is unique per (automation, trigger key), so replicas firing the same tick
 * and a sender repeating a delivery start one run.
 */
export class AutomationTriggers {
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly logger: Logger;
  private readonly work: UnitOfWork;
  private readonly steps: AutomationSteps;
  private readonly webhooks: WebhookSender;

  constructor(deps: AutomationTriggersDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.logger = deps.logger;
    this.work = deps.work;
    this.steps = deps.steps;
    this.webhooks = deps.webhooks;
  }

  /** The active automations on a schedule: what the worker's cron tasks fire. */
  async scheduled(): Promise<Array<{ id: string; schedule: string }>> {
    const automations = await this.db.getRepository(Automation).findBy({ status: AutomationStatus.ACTIVE });
    return automations
      .filter((a) => a.trigger.kind === AutomationTriggerKind.SCHEDULE && a.trigger.schedule)
      .map((a) => ({ id: a.id, schedule: a.trigger.schedule! }));
  }

  /** One tick of an automation's schedule: a run named by the tick's instant, once across replicas. */
  async tick(automationId: string, at: Date): Promise<AutomationRun | null> {
    const automation = await this.db.getRepository(Automation).findOneBy({ id: automationId });
    if (!automation || automation.status !== AutomationStatus.ACTIVE) return null;
    const document = { schedule: { at: at.toISOString() } };
    return this.start(automation, `schedule:${at.toISOString()}`, document);
  }

  /**
   * A signed request to POST /webhooks/automations/<id>: Standard Webhooks headers checked with the
   * automation's signing secret (bad or missing: 401/400), a JSON body, the trigger's filter; then a
   * run (202), or 409 for a webhook-id already received. A paused automation answers 503 with
   * Retry-After, so the sender keeps the delivery and tries again.
   */
  async webhook(automationId: string, request: WebhookRequest): Promise<WebhookAnswer> {
    const automation = isUuid(automationId)
      ? await this.db.getRepository(Automation).findOneBy({ id: automationId.toLowerCase() })
      : null;
    if (!automation || automation.trigger.kind !== AutomationTriggerKind.WEBHOOK || !this.webhooks.available)
      return refuseWebhook(404, 'no automation here takes webhooks');
    const verdict = verifyWebhook(
      request.headers,
      request.body,
      [this.webhooks.secretFor(automation.id)],
      this.now(),
    );
    if (!verdict.ok) return refuseWebhook(verdict.status, verdict.reason);
    let payload: unknown;
    try {
      payload = JSON.parse(request.body.toString('utf8'));
    } catch {
      return refuseWebhook(400, 'the body is not JSON');
    }
    if (automation.status !== AutomationStatus.ACTIVE)
      return { ...refuseWebhook(503, 'the automation is paused'), retryAfterSeconds: 60 };
    const document = { webhook: { id: verdict.id, timestamp: verdict.timestamp.toISOString(), payload } };
    if (!(await this.steps.matches(automation, document)))
      return { status: 200, body: { ignored: 'the trigger filter is false for this delivery' } };
    const run = await this.start(automation, `webhook:${verdict.id}`, document, false);
    if (!run) return refuseWebhook(409, 'this webhook-id was already received');
    return { status: 202, body: { run: run.id } };
  }

  /** Inserts the run unless the trigger key has one (null then); `filtered` applies the trigger filter. */
  private async start(
    automation: Automation,
    key: string,
    document: Record<string, unknown>,
    filtered = true,
  ): Promise<AutomationRun | null> {
    if (filtered && !(await this.steps.matches(automation, document))) return null;
    const run = newRun(automation, key, document, this.now());
    const actor = RequestContext.system(
      this.logger,
      `automation:${automation.name}`,
      `automation-run:${run.id}`,
    );
    return this.work.run(actor, async (tx) => {
      const inserted = await tx.manager
        .createQueryBuilder()
        .insert()
        .into(AutomationRun)
        .values(run as never)
        .orIgnore()
        .returning(['id'])
        .execute();
      if ((inserted.raw as unknown[]).length === 0) return null;
      emitRun(tx, run);
      return run;
    });
  }
}
