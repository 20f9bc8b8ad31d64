import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../common/logger';
import type { ConnectorService } from '../modules/connectors/connector.service';
import type { Platform } from '../platform/platform';

/** How often a worker re-reads schedules, to see changes made through another replica. */
const REFRESH_MS = 30_000;

export interface ConnectorSchedulesDeps extends Pick<Platform, 'logger'> {
  connectors: ConnectorService;
}

/**
 * Each connector's cron schedule as a node-cron task on the worker. A tick syncs under the
 * connector's advisory lock, so across replicas one runner takes each tick and a sync still running
 * is never overlapped; a connector failing (bad config, bad credentials) fails its own run only.
 */
export class ConnectorSchedules {
  private readonly tasks = new Map<string, { schedule: string; task: ScheduledTask }>();
  private readonly running = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  private readonly connectors: ConnectorService;
  private readonly logger: Logger;

  constructor(deps: ConnectorSchedulesDeps) {
    this.connectors = deps.connectors;
    this.logger = deps.logger;
  }

  async start(): Promise<void> {
    this.started = true;
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
    await this.refresh();
  }

  /** The connector ids scheduled now, with their patterns. */
  scheduled(): Map<string, string> {
    return new Map([...this.tasks].map(([id, { schedule }]) => [id, schedule]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.refreshing;
    for (const { task } of this.tasks.values()) await task.destroy();
    this.tasks.clear();
    await Promise.allSettled([...this.running]);
  }

  /** Re-reads the schedules (a connector changed); nothing before `start`. */
  refresh(): Promise<void> {
    if (!this.started) return Promise.resolve();
    // One refresh at a time; a change during one is seen by the next.
    this.refreshing = (this.refreshing ?? Promise.resolve())
      .then(() => this.reconcile())
      .catch((error: unknown) => {
        this.logger.error('connector schedules not refreshed', { error });
      });
    return this.refreshing;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map((await this.connectors.scheduled()).map((c) => [c.id, c.schedule!]));
    for (const [id, entry] of this.tasks) {
      if (wanted.get(id) !== entry.schedule) {
        await entry.task.destroy();
        this.tasks.delete(id);
      }
    }
    for (const [id, schedule] of wanted) {
      if (this.tasks.has(id) || this.stopped) continue;
      const task = cron.schedule(schedule, (context) => this.tick(id, context.date), {
        name: `connector:${id}`,
        noOverlap: true,
      });
      this.tasks.set(id, { schedule, task });
    }
  }

  private async tick(connectorId: string, firedAt: Date): Promise<void> {
    // Replicas fire the same tick within moments of each other: the one that finds a run of this
    // tick already started (or running) skips it.
    const tick = new Date(Math.floor(firedAt.getTime() / 1000) * 1000);
    const run = this.connectors.syncScheduled(connectorId, tick).catch((error: unknown) => {
      this.logger.error('scheduled sync failed', { connector: connectorId, error });
    });
    this.running.add(run);
    try {
      await run;
    } finally {
      this.running.delete(run);
    }
  }
}
