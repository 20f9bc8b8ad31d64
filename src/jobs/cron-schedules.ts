import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../common/logger';

/** How often a worker re-reads schedules, to see changes made through another replica. */
const REFRESH_MS = 30_000;

export interface CronSchedulesOptions {
  /** What is scheduled, for logs ("connector", "automation"). */
  name: string;
  logger: Logger;
  /** Everything that has a schedule now: id and cron pattern. */
  list(): Promise<Array<{ id: string; schedule: string }>>;
  /**
   * One tick of one schedule, at its instant (whole seconds). Every replica fires each tick: the tick
   * must make sure it happens once (an advisory lock, a row unique per instant).
   */
  tick(id: string, at: Date): Promise<unknown>;
}

/**
 * Cron schedules of things the hub keeps in its database (connectors' syncs, automations' runs), as
 * node-cron tasks on the worker: re-read on `refresh` (a change here) and every 30 s (a change on another
 * replica). A tick still running is never overlapped by the next one of the same schedule.
 */
export class CronSchedules {
  private readonly tasks = new Map<string, { schedule: string; task: ScheduledTask }>();
  private readonly running = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: CronSchedulesOptions) {}

  async start(): Promise<void> {
    this.started = true;
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
    await this.refresh();
  }

  /** The ids scheduled now, with their patterns. */
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

  /** Re-reads the schedules (something changed); nothing before `start`. */
  refresh(): Promise<void> {
    if (!this.started) return Promise.resolve();
    // One refresh at a time; a change during one is seen by the next.
    this.refreshing = (this.refreshing ?? Promise.resolve())
      .then(() => this.reconcile())
      .catch((error: unknown) => {
        this.options.logger.error(`${this.options.name} schedules not refreshed`, { error });
      });
    return this.refreshing;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map((await this.options.list()).map((c) => [c.id, c.schedule]));
    for (const [id, entry] of this.tasks) {
      if (wanted.get(id) !== entry.schedule) {
        await entry.task.destroy();
        this.tasks.delete(id);
      }
    }
    for (const [id, schedule] of wanted) {
      if (this.tasks.has(id) || this.stopped) continue;
      const task = cron.schedule(schedule, (context) => this.tick(id, context.date), {
        name: `${this.options.name}:${id}`,
        noOverlap: true,
      });
      this.tasks.set(id, { schedule, task });
    }
  }

  private async tick(id: string, firedAt: Date): Promise<void> {
    // Replicas fire the same tick within moments of each other: it is named by its whole second.
    const at = new Date(Math.floor(firedAt.getTime() / 1000) * 1000);
    const run = this.options.tick(id, at).catch((error: unknown) => {
      this.options.logger.error(`scheduled ${this.options.name} tick failed`, { id, error });
    });
    this.running.add(run);
    try {
      await run;
    } finally {
      this.running.delete(run);
    }
  }
}
