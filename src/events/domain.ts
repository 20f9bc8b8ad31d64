import type { DomainEvent, EventType } from './catalogue';
import type { EventBus } from './event-bus';

/**
 * A live subscription to one type of domain event on this process's bus. The outbox relay is the only
 * publisher of these topics, and it publishes each event under its own type, so the element type holds
 * by construction; this is the one place that says so.
 */
export function subscribeTo<T extends EventType>(
  bus: EventBus,
  type: T,
  internal = false,
): AsyncIterableIterator<DomainEvent<T>> {
  const events = internal ? bus.subscribeInternal(type) : bus.subscribe(type);
  return events as AsyncIterableIterator<DomainEvent<T>>;
}
