import { Redis } from 'ioredis';
import type { Logger } from '../common/logger';
import { LocalEventBus, type EventBus } from './event-bus';

/** Every topic travels on the Redis channel `nerve:<topic>`. */
export const CHANNEL_PREFIX = 'nerve:';

/** Settings of {@link RedisEventBus}. */
export interface RedisEventBusOptions {
  /** `redis://` or `rediss://` URL. */
  url: string;
  logger: Logger;
  /** Bound of each local subscription's queue; see `LocalEventBusOptions.queueCapacity`. */
  queueCapacity?: number;
  /**
   * Prefix of the two connections' client names (`<name>-pub`, `<name>-sub`), so an operator can tell
   * them apart in `CLIENT LIST`. Default `nerve`.
   */
  clientName?: string;
  /**
   * Most publishes waiting for Redis at once (default 10,000). While Redis is slow or down, publishes
   * beyond this are dropped and counted at once instead of holding request memory.
   */
  maxPendingPublishes?: number;
  /** Longest one publish may wait for Redis, queued or in flight, before it counts as failed (default 5 s). */
  publishTimeoutMs?: number;
}

/** How long close() waits for a graceful QUIT, then for the socket to end, before forcing it. */
const CLOSE_TIMEOUT_MS = 2_000;
const CONNECTION_OPTIONS = {
  // How long disconnect() gives a socket before destroying it. ioredis arms this timer even when the
  // socket is already gone (closing between reconnect attempts), and the timer holds the process open.
  disconnectTimeout: 200,
};
/** During an outage every publish fails; one log line per interval says how many did. */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Pub/sub across replicas over Redis: one publisher and one subscriber connection per process, topic
 * `t` on channel `nerve:t`.
 *
 * Delivery: `publish` only sends to Redis; this process's subscribers get the event back from Redis
 * like every other replica's. Each channel is subscribed once per process (on its first local
 * subscriber, unsubscribed after its last), and each message fans out through a {@link LocalEventBus},
 * so every subscriber receives each event exactly once, and all replicas see one topic's events in
 * the same order. A subscription sees events published after Redis acknowledged its channel's
 * SUBSCRIBE (`settled()` waits for that).
 *
 * Payloads travel as JSON: a `Date` arrives as its ISO string (GraphQL's `DateTimeISO` serializes
 * strings too), `undefined` as `null`, and class instances as plain objects. A payload that JSON
 * cannot encode is logged, counted and dropped.
 *
 * Failures never reach the publisher: while Redis is down, ioredis reconnects, and on every new
 * connection the bus subscribes the channels that have local subscribers; a publish that Redis does not accept within `publishTimeoutMs` is logged and counted in
 * `publishFailures` (one still queued when Redis comes back may arrive late), and one in flight when
 * the connection drops is not resent: an event is never delivered twice, but may be lost in an outage,
 * as Redis pub/sub loses what a disconnected subscriber misses anyway.
 */
export class RedisEventBus implements EventBus {
  private readonly local: LocalEventBus;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly logger: Logger;
  private readonly maxPendingPublishes: number;
  private readonly publishTimeoutMs: number;
  /** Channels with local subscribers: what the subscriber connection must be subscribed to. */
  private readonly channels = new Set<string>();
  /** Unacknowledged SUBSCRIBE/UNSUBSCRIBE commands, for settled(). */
  private readonly channelCommands = new Set<Promise<void>>();
  private pendingPublishes = 0;
  private failedPublishes = 0;
  private unloggedFailures = 0;
  private lastFailureLog = 0;
  private failedMessages = 0;
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(options: RedisEventBusOptions) {
    this.logger = options.logger.child({ component: 'event-bus', backend: 'redis' });
    this.maxPendingPublishes = options.maxPendingPublishes ?? 10_000;
    this.publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
    const name = options.clientName ?? 'nerve';
    this.local = new LocalEventBus({
      queueCapacity: options.queueCapacity,
      logger: this.logger,
      onTopicOpened: (topic) => this.openChannel(CHANNEL_PREFIX + topic),
      onTopicClosed: (topic) => this.closeChannel(CHANNEL_PREFIX + topic),
    });
    this.publisher = new Redis(options.url, {
      ...CONNECTION_OPTIONS,
      connectionName: `${name}-pub`,
      // Publishes made before the first connect, or during a blip, wait in ioredis's offline queue;
      // flushing it after every second failed reconnect keeps that queue short in a long outage.
      maxRetriesPerRequest: 1,
      // A PUBLISH in flight when the socket drops may already have been delivered: resending it could
      // deliver the event twice. Such a publish never settles in ioredis; publish() times it out.
      autoResendUnfulfilledCommands: false,
    });
    this.subscriber = new Redis(options.url, {
      ...CONNECTION_OPTIONS,
      connectionName: `${name}-sub`,
      // An UNSUBSCRIBE issued while Redis is down waits for the reconnect, however long it takes.
      maxRetriesPerRequest: null,
      // ioredis restores only the channels it had when the connection was last ready, so it loses one
      // subscribed during a handshake. The bus subscribes its own set on every 'ready' instead.
      autoResubscribe: false,
    });
    this.watch(this.publisher, 'publisher');
    this.watch(this.subscriber, 'subscriber');
    this.subscriber.on('message', this.onMessage);
    this.subscriber.on('ready', () => this.resubscribe());
  }

  get subscribers(): number {
    return this.local.subscribers;
  }

  /** Events dropped because a local subscription's queue was full. */
  get dropped(): number {
    return this.local.dropped;
  }

  /** Publishes that did not reach Redis (down, too slow, too many pending, or not JSON). */
  get publishFailures(): number {
    return this.failedPublishes;
  }

  /** Messages received on a `nerve:` channel that were not JSON (someone else published there). */
  get receiveFailures(): number {
    return this.failedMessages;
  }

  publish(topic: string, payload: unknown): void {
    if (this.closing) return;
    let message: string;
    try {
      // JSON.stringify returns undefined (not a string) for undefined and functions.
      message = JSON.stringify(payload) ?? 'null';
    } catch (error) {
      this.publishFailed(topic, error);
      return;
    }
    if (this.pendingPublishes >= this.maxPendingPublishes) {
      this.publishFailed(topic, new Error(`${this.maxPendingPublishes} publishes already waiting for Redis`));
      return;
    }
    this.pendingPublishes++;
    let pending = true;
    const settle = (error?: unknown): void => {
      if (!pending) return;
      pending = false;
      clearTimeout(timer);
      this.pendingPublishes--;
      if (error !== undefined) this.publishFailed(topic, error);
    };
    // Our own timer rather than ioredis's commandTimeout: a PUBLISH lost with its socket never settles
    // in ioredis, and its commandTimeout timer would hold the process open after close(). This one is
    // unref'd.
    const timer = setTimeout(
      () => settle(new Error(`Redis did not take the publish within ${this.publishTimeoutMs} ms`)),
      this.publishTimeoutMs,
    ).unref();
    this.publisher.publish(CHANNEL_PREFIX + topic, message).then(
      () => settle(),
      (error: unknown) => settle(error ?? new Error('publish failed')),
    );
  }

  publishLocal(topic: string, payload: unknown): void {
    if (!this.closing) this.local.publish(topic, payload);
  }

  subscribe(topic: string, dynamicId?: unknown): AsyncIterableIterator<unknown> {
    return this.local.subscribe(topic, dynamicId);
  }

  subscribeInternal(topic: string): AsyncIterableIterator<unknown> {
    return this.local.subscribeInternal(topic);
  }

  /**
   * Resolves once the subscriber connection is ready and Redis has acknowledged every SUBSCRIBE and
   * UNSUBSCRIBE issued so far: from then on, events published to a subscribed topic reach this bus.
   * Waits as long as Redis is unreachable.
   */
  async settled(): Promise<void> {
    if (this.subscriber.status !== 'ready' && !this.closing) {
      // Registered after the constructor's listener, so resubscribe() has issued its command by then.
      await new Promise((resolve) => this.subscriber.once('ready', resolve));
    }
    // After close() a command queued for a reconnect that will never come would never settle.
    while (this.channelCommands.size > 0 && !this.closing) await Promise.all(this.channelCommands);
  }

  /** Ends every local subscription, then quits both connections. Idempotent. */
  close(): Promise<void> {
    if (this.closed === undefined) {
      // Set before anything else runs: ending the subscriptions fires onTopicClosed, which must not
      // send UNSUBSCRIBEs to a connection that is about to quit.
      this.closing = true;
      this.closed = this.shutdown();
    }
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    await this.local.close();
    await Promise.all([endConnection(this.publisher), endConnection(this.subscriber)]);
  }

  private openChannel(channel: string): void {
    this.channels.add(channel);
    // During the handshake ioredis would write the SUBSCRIBE at once, and the connection, now in
    // subscriber mode, would fail its ready check: until 'ready', resubscribe() covers the channel.
    if (this.subscriber.status === 'ready') this.track('subscribe', this.subscriber.subscribe(channel));
  }

  private closeChannel(channel: string): void {
    this.channels.delete(channel);
    if (this.closing) return;
    // Sent in any state: while Redis is down it waits in the offline queue, behind any SUBSCRIBE of the
    // same channel that ioredis resends from before the drop.
    this.track('unsubscribe', this.subscriber.unsubscribe(channel));
  }

  /** A new connection has no subscriptions: subscribe every channel that has local subscribers. */
  private resubscribe(): void {
    if (this.closing || this.channels.size === 0) return;
    this.track('subscribe', this.subscriber.subscribe(...this.channels));
  }

  private track(kind: 'subscribe' | 'unsubscribe', sent: Promise<unknown>): void {
    const acknowledged = sent.then(
      () => undefined,
      (error: unknown) => {
        // Only a closed connection or an error reply (e.g. an ACL denying the channel) gets here:
        // while Redis is merely unreachable the command waits for the reconnect.
        if (!this.closing) this.logger.error(`redis ${kind} failed`, { error });
      },
    );
    this.channelCommands.add(acknowledged);
    void acknowledged.then(() => this.channelCommands.delete(acknowledged));
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (!channel.startsWith(CHANNEL_PREFIX)) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch (error) {
      this.failedMessages++;
      this.logger.warn('dropped a message that is not JSON', { channel, error });
      return;
    }
    this.local.publish(channel.slice(CHANNEL_PREFIX.length), payload);
  };

  private publishFailed(topic: string, error: unknown): void {
    this.failedPublishes++;
    this.unloggedFailures++;
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    this.logger.error('event publish failed', {
      topic,
      error,
      failedSinceLastLog: this.unloggedFailures,
      failedTotal: this.failedPublishes,
    });
    this.lastFailureLog = now;
    this.unloggedFailures = 0;
  }

  /** One line when a connection goes down and one when it is back, not one per reconnect attempt. */
  private watch(connection: Redis, role: 'publisher' | 'subscriber'): void {
    let down = false;
    const lost = (error?: unknown): void => {
      if (this.closing) return;
      if (down) {
        if (error !== undefined) this.logger.debug('redis still unreachable', { role, error });
        return;
      }
      down = true;
      this.logger.warn('redis connection lost; reconnecting', { role, error });
    };
    connection.on('error', (error: unknown) => lost(error));
    connection.on('close', () => lost());
    connection.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.info('redis connection restored', { role });
    });
  }
}

/**
 * QUIT when connected (Redis answers what is in flight first), otherwise disconnect; either way wait,
 * within a bound, for the socket to end so nothing keeps the process alive.
 */
async function endConnection(connection: Redis): Promise<void> {
  if (connection.status === 'end') return;
  // Not events.once(): it rejects on an 'error' event, which a dying connection may still emit.
  const ended = new Promise<boolean>((resolve) => connection.once('end', () => resolve(true)));
  if (connection.status === 'ready') {
    const quit = connection.quit().then(
      () => true,
      () => false,
    );
    if (await withTimeout(quit, CLOSE_TIMEOUT_MS)) {
      await withTimeout(ended, CLOSE_TIMEOUT_MS);
      return;
    }
  }
  // Between reconnect attempts there is no socket left to end, and so no 'end' event to wait for.
  const socketOpen = connection.status !== 'reconnecting';
  connection.disconnect();
  if (socketOpen) await withTimeout(ended, CLOSE_TIMEOUT_MS);
}

/** The promise's value, or false after `ms`; the timer never outlives the promise. */
async function withTimeout(promise: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
