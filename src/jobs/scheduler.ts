import cron, { type ScheduledTask } from 'node-cron';
import type { DataSource } from 'typeorm';
import type { Logger } from '../common/logger';
import { tryLock } from '../db/advisory-lock';

/** A scheduled job: what runs, when (a node-cron pattern with seconds), and whether every replica runs it. */
export interface Job {
  id: string;
  schedule: string;
  /** Each replica runs its own (flushing its own buffers); otherwise one replica per tick, under a lock. */
  everyReplica?: boolean;
  /** `lost` aborts when a shared job's lock went with its database session: stop at the next step. */
  run(lost?: AbortSignal): Promise<void>;
}

/**
 * Runs jobs on their schedules with node-cron. A shared job takes a PostgreSQL advisory lock for its
 * tick, so with several replicas exactly one runs it, and a tick still running is never overlapped.
 */
export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly db: DataSource,
    private readonly logger: Logger,
    private readonly jobs: Job[],
  ) {}

  start(only: (job: Job) => boolean = () => true): void {
    for (const job of this.jobs.filter(only)) {
      const task = cron.schedule(job.schedule, () => this.tick(job), { name: job.id, noOverlap: true });
      this.tasks.push(task);
    }
  }

  /** Runs a job now, under its lock unless it runs on every replica; false when another replica held it. */
  async runNow(id: string): Promise<boolean> {
    const job = this.jobs.find((j) => j.id === id);
    if (!job) throw new Error(`no job ${id}`);
    return this.tick(job);
  }

  async stop(): Promise<void> {
    for (const task of this.tasks.splice(0)) await task.destroy();
    await Promise.allSettled([...this.running]);
  }

  private async tick(job: Job): Promise<boolean> {
    const run = this.locked(job);
    this.running.add(run);
    try {
      return await run;
    } catch (error) {
      this.logger.error('job failed', { job: job.id, error });
      return true;
    } finally {
      this.running.delete(run);
    }
  }

  private async locked(job: Job): Promise<boolean> {
    if (job.everyReplica) {
      await job.run();
      return true;
    }
    const lock = await tryLock(this.db, this.logger, 'job', job.id);
    if (!lock) return false;
    try {
      await job.run(lock.lost);
    } finally {
      await lock.release();
    }
    return true;
  }
}
