import { randomUUID } from 'node:crypto';
import { In, type EntityManager } from 'typeorm';
import type { AnyDomainEvent, DomainEvent } from '../../events/catalogue';
import { DurableConsumer } from '../../platform/outbox/durable-consumer';
import type { Outbox } from '../../platform/outbox/outbox';
import type { Platform } from '../../platform/platform';
import { syncedRecords } from '../connectors/connector.repository';
import { stepState, TRIGGER_EVENTS } from './automation-plan';
import type { AutomationSteps } from './automation-steps';
import {
  Automation,
  AutomationRun,
  AutomationRunStatus,
  AutomationStatus,
  AutomationTriggerKind,
  RecordChange,
} from './automation.entity';

/** One trigger occurrence: the document its run reads, and the key that makes it happen once. */
interface Occurrence {
  key: string;
  document: Record<string, unknown>;
}

export interface AutomationDispatcherDeps extends Pick<Platform, 'db' | 'logger' | 'now'> {
  outbox: Outbox;
  steps: AutomationSteps;
}

/**
 * Turns domain events into automation runs: a durable consumer of the outbox (one replica at a time,
 * never missing an event) that, in the transaction that moves its position, inserts a PENDING run per
 * matching automation and occurrence (a synced record, an event), unique per (automation, trigger key):
 * an event read twice, or a record arriving by webhook and again by sync, starts one run.
 */
export class AutomationDispatcher {
  private readonly consumer: DurableConsumer;
  private readonly steps: AutomationSteps;
  private readonly now: () => Date;

  /** Runs were inserted by the read under way: `onRuns` is told once it commits. */
  private inserted = false;

  constructor(deps: AutomationDispatcherDeps, options: { pollMs?: number; onRuns?: () => void } = {}) {
    this.steps = deps.steps;
    this.now = deps.now;
    this.consumer = new DurableConsumer(deps, {
      name: 'automations',
      types: TRIGGER_EVENTS,
      pollMs: options.pollMs ?? 100,
      handle: (events, manager) => this.dispatch(events, manager),
      afterCommit: () => {
        if (this.inserted) options.onRuns?.();
        this.inserted = false;
      },
    });
  }

  start(): void {
    this.consumer.start();
  }

  close(): Promise<void> {
    return this.consumer.close();
  }

  /** Reads the outbox now (a change committed events in this process), not at the end of the pause. */
  nudge(): void {
    this.consumer.nudge();
  }

  /** Reads what is new now (tests, and a runner that wants work at once). */
  step(): Promise<boolean> {
    return this.consumer.step();
  }

  private async dispatch(events: AnyDomainEvent[], manager: EntityManager): Promise<void> {
    const projectIds = [...new Set(events.map((e) => e.projectId).filter((id): id is string => id !== null))];
    if (projectIds.length === 0) return;
    const automations = await manager.getRepository(Automation).find({
      where: { projectId: In(projectIds), status: AutomationStatus.ACTIVE },
    });
    const runs: AutomationRun[] = [];
    for (const event of events) {
      for (const automation of automations) {
        const { trigger } = automation;
        if (automation.projectId !== event.projectId || trigger.kind !== AutomationTriggerKind.EVENT)
          continue;
        if (trigger.event !== event.type || Number(event.position) <= automation.sincePosition) continue;
        for (const occurrence of await this.occurrences(manager, automation, event)) {
          if (!(await this.steps.matches(automation, occurrence.document))) continue;
          runs.push(newRun(automation, occurrence.key, occurrence.document, this.now()));
        }
      }
    }
    if (runs.length === 0) return;
    this.inserted = true;
    await manager
      .createQueryBuilder()
      .insert()
      .into(AutomationRun)
      .values(runs as never[])
      .orIgnore()
      .execute();
  }

  /** What an event gives an automation: one occurrence per matching record for records.synced, else itself. */
  private async occurrences(
    manager: EntityManager,
    automation: Automation,
    event: AnyDomainEvent,
  ): Promise<Occurrence[]> {
    const about = { type: event.type, position: event.position, at: event.at, payload: event.payload };
    if (event.type !== 'records.synced')
      return [{ key: `event:${event.position}`, document: { event: about } }];
    const synced = (event as DomainEvent<'records.synced'>).payload;
    const { trigger } = automation;
    if (trigger.connectorId && trigger.connectorId !== synced.connectorId) return [];
    if (trigger.stream && trigger.stream !== synced.stream) return [];
    const change = trigger.change ?? RecordChange.CREATED;
    const ids = [
      ...(change !== RecordChange.UPDATED ? synced.created : []),
      ...(change !== RecordChange.CREATED ? synced.updated : []),
    ];
    const records = await syncedRecords(manager, synced.kind, synced.connectorId, ids);
    return records.map((record) => ({
      // Created: once per record. Updated (or any): once per version of the record, so a record that
      // arrives by webhook and then again by sync, unchanged, starts one run.
      key:
        change === RecordChange.CREATED
          ? `record:${synced.connectorId}:${record.externalId}:created`
          : `record:${synced.connectorId}:${record.externalId}:${record.updatedAt.toISOString()}`,
      document: {
        event: { ...about, payload: { ...synced, created: undefined, updated: undefined } },
        record: { kind: synced.kind, stream: synced.stream, ...JSON.parse(JSON.stringify(record)) },
      },
    }));
  }
}

/** A PENDING run of the automation as it is now, for one trigger occurrence, due at once. */
export function newRun(
  automation: Automation,
  triggerKey: string,
  document: Record<string, unknown>,
  at: Date,
): AutomationRun {
  return {
    id: randomUUID(),
    automationId: automation.id,
    projectId: automation.projectId,
    triggerKey,
    automationVersion: automation.version,
    status: AutomationRunStatus.PENDING,
    document,
    steps: automation.steps.map((s) => stepState(s)),
    attempts: 0,
    nextAttemptAt: at,
    leaseUntil: null,
    leaseToken: null,
    error: null,
    errorKind: null,
    createdAt: at,
    finishedAt: null,
  };
}
