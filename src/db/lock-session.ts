import type { EventEmitter } from 'node:events';
import type { DataSource, QueryRunner } from 'typeorm';
import type { Logger } from '../common/logger';

/**
 * A dedicated connection holding a session-level advisory lock for work that outlives one statement (a
 * scheduled job's tick, a connector sync). PostgreSQL drops the lock when the session ends, so a session
 * that dies (a failover, `pg_terminate_backend`) means the lock is gone while the work goes on: `lost`
 * aborts then, and the work must stop at its next step rather than carry on as if it still held the lock.
 * Taken through `tryLock` of ./advisory-lock, which names the lock's space.
 */
export class LockSession {
  private readonly abort = new AbortController();
  private held = false;
  private detach: () => void = () => undefined;

  private constructor(
    private readonly runner: QueryRunner,
    private readonly logger: Logger,
    readonly name: string,
    private readonly space: number,
    private readonly key: number,
  ) {}

  /** Aborted when the session's connection ends before `release()`. */
  get lost(): AbortSignal {
    return this.abort.signal;
  }

  /**
   * Opens a session and tries `pg_try_advisory_lock(space, key)` on it; null (the session closed) when
   * another session holds the lock.
   */
  static async tryAcquire(
    db: DataSource,
    logger: Logger,
    name: string,
    space: number,
    key: number,
  ): Promise<LockSession | null> {
    const runner = db.createQueryRunner();
    const session = new LockSession(runner, logger, name, space, key);
    try {
      session.watch((await runner.connect()) as EventEmitter);
      const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1, $2) AS locked', [
        space,
        key,
      ])) as Array<{ locked: boolean }>;
      session.held = locked;
    } catch (error) {
      await session.release();
      throw error;
    }
    if (session.held) return session;
    await session.release();
    return null;
  }

  /** Unlocks (when the session still lives) and returns the connection; never throws. */
  async release(): Promise<void> {
    this.detach();
    try {
      if (this.held && !this.lost.aborted)
        await this.runner.query('SELECT pg_advisory_unlock($1, $2)', [this.space, this.key]);
    } catch (error) {
      // The session ended meanwhile: PostgreSQL released the lock with it.
      this.logger.warn('advisory lock not released; its session ended', { lock: this.name, error });
    } finally {
      this.held = false;
      await this.runner.release();
    }
  }

  private watch(connection: EventEmitter): void {
    const onLost = (error?: unknown): void => {
      if (this.abort.signal.aborted) return;
      if (this.held) this.logger.error('advisory lock lost: its session ended', { lock: this.name, error });
      this.abort.abort(new Error(`the lock ${this.name} was lost with its database session`));
    };
    const onEnd = (): void => onLost();
    connection.on('error', onLost);
    connection.on('end', onEnd);
    this.detach = () => {
      connection.off('error', onLost);
      connection.off('end', onEnd);
    };
  }
}
