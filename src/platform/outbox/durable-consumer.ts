import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../../common/logger';
import type { AnyDomainEvent, EventType } from '../../events/catalogue';
import type { Platform } from '../platform';
import type { Outbox } from './outbox';

/** A consumer: its name (the key of its stored position), what it reads and what it does with it. */
export interface DurableConsumerOptions {
  name: string;
  /**
   * Called with each batch, oldest first, inside the transaction that moves the position past it: the
   * database work it does through `manager` commits with the position (exactly once); anything else
   * (a call out) may be repeated after a crash (at least once). Do database work through `manager` only:
   * another connection would wait on the position's row lock, and on the embedded database (one
   * backend) on the transaction itself.
   */
  handle: (events: AnyDomainEvent[], manager: EntityManager) => Promise<void>;
  types?: readonly EventType[];
  /** Pause between reads when there was nothing new (default 250 ms). */
  pollMs?: number;
  /** Events handed over per call (default 100). */
  batch?: number;
  /** Called after each read has committed (e.g. to wake whoever acts on what `handle` wrote). */
  afterCommit?: () => void;
}

/**
 * A named reader of the outbox that never misses an event: its position is stored (`outbox_consumer`)
 * and moves only after `handle` returned, in the same transaction that holds the position's row lock, so
 * one replica at a time consumes and a crash repeats at most the batch in hand. A new consumer starts at
 * position 0.
 */
export class DurableConsumer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = true;
  /** Between reads (a pause is under way): a nudge may start the next one now. */
  private idle = false;
  /** Nudged during a read. */
  private again = false;
  private readonly db: DataSource;
  private readonly outbox: Outbox;
  private readonly logger: Logger;
  private readonly pollMs: number;
  private readonly batch: number;

  constructor(
    deps: Pick<Platform, 'db' | 'logger'> & { outbox: Outbox },
    private readonly options: DurableConsumerOptions,
  ) {
    this.db = deps.db;
    this.outbox = deps.outbox;
    this.logger = deps.logger;
    this.pollMs = options.pollMs ?? 250;
    this.batch = options.batch ?? 100;
  }

  start(): void {
    this.closed = false;
    this.tick();
  }

  /** Reads now instead of at the end of the pause (something committed events): a no-op while reading. */
  nudge(): void {
    if (this.closed) return;
    // Mid-read, the commit may have come after the read began: read again as soon as it ends.
    if (!this.idle) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.tick();
  }

  private tick(): void {
    if (this.closed) return;
    this.idle = false;
    this.running = this.step()
      .then((more) => {
        this.options.afterCommit?.();
        const again = this.again;
        this.again = false;
        this.wait(more || again ? 0 : this.pollMs);
      })
      .catch((error: unknown) => {
        this.logger.warn('outbox consumer failed; it retries from its stored position', {
          consumer: this.options.name,
          error,
        });
        this.wait(this.pollMs);
      });
  }

  private wait(ms: number): void {
    if (this.closed) return;
    this.idle = true;
    this.timer = setTimeout(() => this.tick(), ms).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Hands over the next batch, if any; true when there may be more. */
  async step(): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO outbox_consumer (name, position, updated_at) VALUES ($1, 0, now())
         ON CONFLICT (name) DO NOTHING`,
        [this.options.name],
      );
      const [{ position }] = (await manager.query(
        'SELECT position::text AS position FROM outbox_consumer WHERE name = $1 FOR UPDATE',
        [this.options.name],
      )) as Array<{ position: string }>;
      const events = await this.outbox.read(
        position,
        { limit: this.batch, types: this.options.types },
        manager,
      );
      // With a type filter the last event read may lie far behind the newest position examined; moving
      // to it is still right: nothing between them matched.
      if (events.length === 0) return false;
      await this.options.handle(events, manager);
      await manager.query('UPDATE outbox_consumer SET position = $2, updated_at = now() WHERE name = $1', [
        this.options.name,
        events[events.length - 1].position,
      ]);
      return events.length === this.batch;
    });
  }
}
