import type { EventBus } from './event-bus';

/**
 * A topic of the bus that is not a domain event: live figures that change every few seconds and are
 * not state (domain events use their type as topic; see catalogue.ts), one channel per key (e.g. per
 * endpoint). Its publisher and its subscribers share this object, so the payload type holds by
 * construction; this is the one place that says so. The name is also the suffix of its Redis channel
 * (`nerve:<name>:<key>`), so renaming one is a wire change between replicas running different versions.
 */
export class LiveTopic<T> {
  constructor(readonly name: string) {}

  publish(bus: EventBus, key: string, payload: T): void {
    bus.publish(`${this.name}:${key}`, payload);
  }

  subscribe(bus: EventBus, key: string): AsyncIterableIterator<T> {
    return bus.subscribe(`${this.name}:${key}`) as AsyncIterableIterator<T>;
  }
}
