import type { Logger } from '../common/logger';
import { LocalEventBus, type EventBus } from './event-bus';
import { RedisEventBus } from './redis-event-bus';

export { DEFAULT_QUEUE_CAPACITY, LocalEventBus, type EventBus, type LocalEventBusOptions } from './event-bus';
export { CHANNEL_PREFIX, RedisEventBus, type RedisEventBusOptions } from './redis-event-bus';
export { LiveTopic } from './topics';
export { subscribeTo } from './domain';

/**
 * The process's event bus: Redis when `redisUrl` is set (subscribers on every replica receive every
 * event), in-process otherwise (one process, nothing to run beside it).
 */
export function createEventBus(options: { redisUrl?: string; logger: Logger }): EventBus {
  if (options.redisUrl) return new RedisEventBus({ url: options.redisUrl, logger: options.logger });
  return new LocalEventBus({ logger: options.logger.child({ component: 'event-bus', backend: 'local' }) });
}
