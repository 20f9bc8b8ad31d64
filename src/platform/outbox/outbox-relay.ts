import type { Logger } from '../../common/logger';
import type { EventBus } from '../../events/event-bus';
import type { Outbox } from './outbox';

export interface RelayOptions {
  /** How often the outbox is read for events other replicas committed (default 200 ms). */
  pollMs?: number;
  /** Events read per query (default 500). */
  batch?: number;
}

/**
 * Tails the outbox and publishes each committed event on this process's bus, on the topic named by its
 * type, in position order. Every replica runs one and reads the shared outbox itself, so an event
 * reaches the subscribers of every replica however its writer ended: a process killed between its
 * commit and its publish loses nothing, because publishing never depended on it.
 *
 * Delivery is at least once per process and in commit order. A local commit nudges the relay so the
 * writer's own subscribers hear at once; other replicas' events arrive within `pollMs`. The relay starts
 * at the head of the outbox as it finds it on its first read: live subscriptions see what commits after
 * they start, and a consumer that must not miss anything keeps its own position (see
 * {@link DurableConsumer}).
 */
export class OutboxRelay {
  private position: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly pollMs: number;
  private readonly batch: number;

  constructor(
    private readonly outbox: Outbox,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: RelayOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 200;
    this.batch = options.batch ?? 500;
  }

  /** Starts reading: from the head, then everything committed after it. */
  start(): void {
    this.schedule();
    this.nudge();
  }

  /** Reads now (a commit of this process wrote events). */
  nudge(): void {
    if (this.closed) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    });
  }

  /** Publishes what is committed and stops reading. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.timer);
    await this.draining;
    await this.drain();
    this.closed = true;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.nudge();
      this.schedule();
    }, this.pollMs).unref();
  }

  private async drain(): Promise<void> {
    if (this.closed) return;
    try {
      this.position ??= await this.outbox.head();
      for (;;) {
        const events = await this.outbox.read(this.position, { limit: this.batch });
        for (const event of events) {
          this.bus.publishLocal(event.type, event);
          this.position = event.position;
        }
        if (events.length < this.batch) return;
      }
    } catch (error) {
      // The next tick reads again from the same position: nothing is skipped.
      this.logger.warn('outbox relay could not read; retrying', { error });
    }
  }
}
