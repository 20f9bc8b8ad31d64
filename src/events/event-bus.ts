import type { Logger } from '../common/logger';

/**
 * What type-graphql's `pubSub` build option needs, plus lifecycle. Pass an instance straight to
 * `buildSchema({ pubSub: bus })`: `EventBus` is assignable to type-graphql's `PubSub`.
 *
 * Payloads are shared, not copied, between the subscribers of one process: treat them as immutable.
 */
export interface EventBus {
  /**
   * Delivers `payload` to every live subscription of `topic` (on every replica, for a shared backend).
   * Never throws into the caller and never waits: a failure is logged and counted by the backend.
   */
  publish(topic: string, payload: unknown): void;
  /**
   * Delivers `payload` to this process's subscriptions of `topic` only. The outbox relay publishes
   * domain events this way: every replica reads the outbox itself, so sending them across would
   * deliver each twice.
   */
  publishLocal(topic: string, payload: unknown): void;
  /**
   * A live subscription to `topic`: yields each event published after it was made, in publish order.
   * It ends when `return()` (or `throw()`) is called, which graphql-ws does on unsubscribe or disconnect,
   * or when the bus closes. A subscriber that falls behind loses its oldest events, never memory.
   *
   * type-graphql's `topicId` option is not supported (an implementation throws if one is passed):
   * route with a computed topic name (`topics: ({ args }) => ...`) or a `filter` instead.
   */
  subscribe(topic: string): AsyncIterableIterator<unknown>;
  /**
   * Like `subscribe`, for the process's own standing consumers (key revocations), which are not
   * clients: not counted in `subscribers`.
   */
  subscribeInternal(topic: string): AsyncIterableIterator<unknown>;
  /** Live subscriptions on this process, for leak tests and `/metrics`. */
  readonly subscribers: number;
  /** Ends every live subscription and releases the backend's resources. Idempotent. */
  close(): Promise<void>;
}

/** Default bound of one subscription's queue of undelivered events. */
export const DEFAULT_QUEUE_CAPACITY = 1_000;

/** Tuning and hooks of {@link LocalEventBus}. */
export interface LocalEventBusOptions {
  /**
   * Most events one subscription holds before its reader takes them (default 1,000). When full, the
   * oldest is dropped and counted in `dropped`: a stalled client costs bounded memory, and a live
   * view (stats, alerts) is better served by the newest events than by the oldest.
   */
  queueCapacity?: number;
  /** Warned once per subscription when it starts dropping events. */
  logger?: Logger;
  /** Called synchronously when `topic` gains its first live subscription on this bus. */
  onTopicOpened?: (topic: string) => void;
  /** Called synchronously when `topic` loses its last live subscription on this bus. */
  onTopicClosed?: (topic: string) => void;
}

type Waiter = (result: IteratorResult<unknown>) => void;

const DONE: IteratorResult<unknown> = Object.freeze({ value: undefined, done: true });

/** Arrays this long or shorter are kept when a queue drains; longer ones are released. */
const KEEP_DRAINED_BUFFER = 16;

/**
 * One subscription: a ring buffer that grows on demand up to its capacity, so the common case (a
 * reader waiting in `next()`) never allocates a queue at all, and a backlog costs one array, not one
 * allocation per event.
 */
class Subscription implements AsyncIterableIterator<unknown> {
  /** Set while the subscription is live; cleared when it ends, so ending twice is a no-op. */
  detach: ((subscription: Subscription) => void) | undefined;
  dropped = 0;
  private buffer: unknown[] = [];
  private head = 0;
  private size = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly topic: string,
    private readonly capacity: number,
    detach: (subscription: Subscription) => void,
    /** Whether it is a client's, counted in the bus's `subscribers`. */
    readonly counted: boolean,
  ) {
    this.detach = detach;
  }

  /** Returns false when the event pushed out the oldest queued one. */
  push(value: unknown): boolean {
    if (this.waiters.length > 0) {
      this.waiters.shift()!({ value, done: false });
      return true;
    }
    let buffer = this.buffer;
    if (this.size === buffer.length) {
      if (buffer.length === this.capacity) {
        buffer[this.head] = value;
        this.head = (this.head + 1) % buffer.length;
        this.dropped++;
        return false;
      }
      buffer = this.grow();
    }
    buffer[(this.head + this.size) % buffer.length] = value;
    this.size++;
    return true;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.size > 0) return Promise.resolve({ value: this.shift(), done: false });
    if (this.detach === undefined) return Promise.resolve(DONE);
    return new Promise<IteratorResult<unknown>>((resolve) => this.waiters.push(resolve));
  }

  return(): Promise<IteratorResult<unknown>> {
    this.end();
    return Promise.resolve(DONE);
  }

  /** Like an async generator's: the subscription ends and the error comes back to the caller. */
  throw(error?: unknown): Promise<IteratorResult<unknown>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<unknown> {
    return this;
  }

  /** Ends the subscription: unregisters it, discards its backlog, and completes pending `next()`s. */
  end(): void {
    const detach = this.detach;
    if (detach === undefined) return;
    this.detach = undefined;
    this.buffer = [];
    this.head = 0;
    this.size = 0;
    detach(this);
    for (const waiter of this.waiters.splice(0)) waiter(DONE);
  }

  private shift(): unknown {
    const buffer = this.buffer;
    const value = buffer[this.head];
    buffer[this.head] = undefined;
    this.head = (this.head + 1) % buffer.length;
    this.size--;
    if (this.size === 0) {
      this.head = 0;
      if (buffer.length > KEEP_DRAINED_BUFFER) this.buffer = [];
    }
    return value;
  }

  private grow(): unknown[] {
    const old = this.buffer;
    const next = new Array<unknown>(Math.min(this.capacity, Math.max(8, old.length * 2)));
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) % old.length];
    this.buffer = next;
    this.head = 0;
    return next;
  }
}

/**
 * In-process pub/sub: the default backend, and the local fan-out under {@link RedisEventBus}.
 *
 * Publishing is synchronous and O(subscribers of the topic): each subscription either hands the event
 * to a waiting `next()` or appends it to its own bounded queue.
 */
export class LocalEventBus implements EventBus {
  private readonly topics = new Map<string, Set<Subscription>>();
  private readonly capacity: number;
  private live = 0;
  private droppedTotal = 0;
  private closed = false;

  constructor(private readonly options: LocalEventBusOptions = {}) {
    const capacity = options.queueCapacity ?? DEFAULT_QUEUE_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queueCapacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get subscribers(): number {
    return this.live;
  }

  /** Events discarded because a subscription's queue was full, since this bus was made. */
  get dropped(): number {
    return this.droppedTotal;
  }

  publish(topic: string, payload: unknown): void {
    const subscriptions = this.topics.get(topic);
    if (subscriptions === undefined) return;
    for (const subscription of subscriptions) {
      if (subscription.push(payload)) continue;
      this.droppedTotal++;
      if (subscription.dropped === 1) {
        this.options.logger?.warn('event subscription is not keeping up; dropping its oldest events', {
          topic,
          queueCapacity: this.capacity,
        });
      }
    }
  }

  publishLocal(topic: string, payload: unknown): void {
    this.publish(topic, payload);
  }

  subscribe(topic: string, dynamicId?: unknown): AsyncIterableIterator<unknown> {
    rejectDynamicId(topic, dynamicId);
    return this.open(topic, true);
  }

  subscribeInternal(topic: string): AsyncIterableIterator<unknown> {
    return this.open(topic, false);
  }

  private open(topic: string, counted: boolean): Subscription {
    const subscription = new Subscription(topic, this.capacity, this.detach, counted);
    if (this.closed) {
      subscription.end();
      return subscription;
    }
    let subscriptions = this.topics.get(topic);
    const opened = subscriptions === undefined;
    if (subscriptions === undefined) {
      subscriptions = new Set();
      this.topics.set(topic, subscriptions);
    }
    subscriptions.add(subscription);
    if (counted) this.live++;
    if (opened) this.notify(this.options.onTopicOpened, topic);
    return subscription;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subscriptions of [...this.topics.values()]) {
      for (const subscription of [...subscriptions]) subscription.end();
    }
  }

  /** An arrow function, so every subscription shares this one closure instead of binding its own. */
  private readonly detach = (subscription: Subscription): void => {
    const subscriptions = this.topics.get(subscription.topic);
    if (subscriptions === undefined || !subscriptions.delete(subscription)) return;
    if (subscription.counted) this.live--;
    if (subscriptions.size > 0) return;
    this.topics.delete(subscription.topic);
    this.notify(this.options.onTopicClosed, subscription.topic);
  };

  /** A hook's failure is its owner's to report; it must not break subscribe() or return(). */
  private notify(hook: ((topic: string) => void) | undefined, topic: string): void {
    if (hook === undefined) return;
    try {
      hook(topic);
    } catch (error) {
      this.options.logger?.error('event bus topic hook failed', { topic, error });
    }
  }
}

/**
 * type-graphql passes `topicId` as a second argument to `subscribe`. Ignoring it would hand a
 * subscriber every event of the topic, including other tenants' ones, so it fails loudly instead.
 */
function rejectDynamicId(topic: string, dynamicId: unknown): void {
  if (dynamicId === undefined) return;
  throw new TypeError(
    `EventBus does not support type-graphql's topicId (topic "${topic}"): compute the topic name ` +
      'in `topics: ({ args }) => ...` or use `filter`',
  );
}
