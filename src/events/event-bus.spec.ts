import type { PubSub } from 'type-graphql';
import { Logger } from '../common/logger';
import { LocalEventBus, type EventBus } from './event-bus';
import { createEventBus } from './index';

/** Resolves after every pending promise callback has run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function take(iterator: AsyncIterator<unknown>, count: number): Promise<unknown[]> {
  const values: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const result = await iterator.next();
    if (result.done) break;
    values.push(result.value);
  }
  return values;
}

describe('LocalEventBus', () => {
  let bus: LocalEventBus;

  beforeEach(() => {
    bus = new LocalEventBus();
  });

  afterEach(async () => {
    await bus.close();
  });

  it('is what type-graphql takes as buildSchema({ pubSub })', () => {
    const asEventBus: EventBus = bus;
    const pubSub: PubSub = asEventBus;
    expect(pubSub).toBe(bus);
  });

  it('delivers events in publish order, queued and awaited alike', async () => {
    const events = bus.subscribe('t');
    bus.publish('t', 1);
    bus.publish('t', 2);
    const pending = [events.next(), events.next(), events.next(), events.next()];
    bus.publish('t', 3);
    bus.publish('t', 4);
    bus.publish('t', 5);
    expect((await Promise.all(pending)).map((result) => result.value)).toEqual([1, 2, 3, 4]);
    expect(await take(events, 1)).toEqual([5]);
  });

  it('delivers to the process’s own subscriptions without counting them as subscribers', async () => {
    const opened: string[] = [];
    const own = new LocalEventBus({ onTopicOpened: (topic) => opened.push(topic) });
    const internal = own.subscribeInternal('revoked');
    const client = own.subscribe('revoked');
    expect(own.subscribers).toBe(1);
    expect(opened).toEqual(['revoked']);
    own.publish('revoked', { keyId: 'k1' });
    expect(await take(internal, 1)).toEqual([{ keyId: 'k1' }]);
    expect(await take(client, 1)).toEqual([{ keyId: 'k1' }]);
    await client.return!();
    expect(own.subscribers).toBe(0);
    await internal.return!();
    expect(own.subscribers).toBe(0);
  });

  it('delivers only the topic subscribed to, and only events published after subscribing', async () => {
    bus.publish('t', 'before');
    const events = bus.subscribe('t');
    bus.publish('other', 'elsewhere');
    bus.publish('t', 'after');
    expect(await take(events, 1)).toEqual(['after']);
  });

  it('gives each of many subscribers every event exactly once', async () => {
    const subscriptions = Array.from({ length: 1_000 }, () => bus.subscribe('t'));
    const waiting = subscriptions.map((events) => events.next());
    for (let i = 0; i < 10; i++) bus.publish('t', { i });
    const received = await Promise.all(
      subscriptions.map(async (events, n) => [(await waiting[n]).value, ...(await take(events, 9))]),
    );
    for (const values of received) expect(values).toEqual(Array.from({ length: 10 }, (_, i) => ({ i })));
    for (const events of subscriptions) await events.return!();
    expect(bus.subscribers).toBe(0);
  });

  it('shares one payload object among the subscribers instead of copying it', async () => {
    const a = bus.subscribe('t');
    const b = bus.subscribe('t');
    const payload = { at: new Date() };
    bus.publish('t', payload);
    expect((await a.next()).value).toBe(payload);
    expect((await b.next()).value).toBe(payload);
  });

  it('ends a subscription waiting in next() when return() is called, and frees it', async () => {
    const closed: string[] = [];
    const hooked = new LocalEventBus({ onTopicClosed: (topic) => closed.push(topic) });
    const events = hooked.subscribe('t');
    const waiting = events.next();
    expect(hooked.subscribers).toBe(1);
    expect(await events.return!()).toEqual({ value: undefined, done: true });
    expect(hooked.subscribers).toBe(0);
    expect(closed).toEqual(['t']);
    expect(await waiting).toEqual({ value: undefined, done: true });
    hooked.publish('t', 'late');
    expect(await events.next()).toEqual({ value: undefined, done: true });
  });

  it('ends a subscription on throw(), handing the error back', async () => {
    const events = bus.subscribe('t');
    const waiting = events.next();
    const error = new Error('client went away');
    await expect(events.throw!(error)).rejects.toBe(error);
    expect(bus.subscribers).toBe(0);
    expect(await waiting).toEqual({ value: undefined, done: true });
  });

  it('ends a for-await loop that breaks out, and frees the subscription', async () => {
    const events = bus.subscribe('t');
    const loop = (async () => {
      for await (const value of events) if (value === 'stop') break;
    })();
    bus.publish('t', 'go');
    bus.publish('t', 'stop');
    await loop;
    expect(bus.subscribers).toBe(0);
  });

  it('discards the backlog of an ended subscription, and return() twice is harmless', async () => {
    const events = bus.subscribe('t');
    bus.publish('t', 1);
    await events.return!();
    await events.return!();
    expect(await events.next()).toEqual({ value: undefined, done: true });
    expect(bus.subscribers).toBe(0);
  });

  it('opens and closes a topic once, around its first and last subscriber', () => {
    const calls: string[] = [];
    const hooked = new LocalEventBus({
      onTopicOpened: (topic) => calls.push(`open ${topic}`),
      onTopicClosed: (topic) => calls.push(`close ${topic}`),
    });
    const a = hooked.subscribe('t');
    const b = hooked.subscribe('t');
    void a.return!();
    void b.return!();
    hooked.subscribe('t');
    expect(calls).toEqual(['open t', 'close t', 'open t']);
    return hooked.close();
  });

  it('keeps subscribe() and return() working when a hook throws', async () => {
    const logger = new Logger('silent');
    const hooked = new LocalEventBus({
      logger,
      onTopicOpened: () => {
        throw new Error('boom');
      },
    });
    const events = hooked.subscribe('t');
    hooked.publish('t', 'still delivered');
    expect(await take(events, 1)).toEqual(['still delivered']);
    await hooked.close();
  });

  it('close() ends every live subscription, waiting or not, and later ones start ended', async () => {
    const waiting = Array.from({ length: 3 }, (_, i) => bus.subscribe(`t${i}`).next());
    const idle = bus.subscribe('t0');
    bus.publish('t0', 'unread');
    expect(bus.subscribers).toBe(4);
    await bus.close();
    expect(bus.subscribers).toBe(0);
    // The first waiter got the event; the others end.
    expect(await Promise.all(waiting)).toEqual([
      { value: 'unread', done: false },
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
    expect(await idle.next()).toEqual({ value: undefined, done: true });
    const late = bus.subscribe('t0');
    expect(bus.subscribers).toBe(0);
    expect(await late.next()).toEqual({ value: undefined, done: true });
    bus.publish('t0', 'after close');
    await bus.close();
  });

  it('bounds a slow subscriber: drops its oldest events and counts them, without touching others', async () => {
    const small = new LocalEventBus({ queueCapacity: 3, logger: new Logger('silent') });
    const slow = small.subscribe('t');
    const fast = small.subscribe('t');
    const seen: unknown[] = [];
    for (let i = 1; i <= 10; i++) {
      small.publish('t', i);
      seen.push((await fast.next()).value);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(small.dropped).toBe(7);
    expect(await take(slow, 3)).toEqual([8, 9, 10]);
    small.publish('t', 11);
    expect(await take(slow, 1)).toEqual([11]);
    await small.close();
  });

  it('keeps order across the ring buffer wrapping and growing', async () => {
    const small = new LocalEventBus({ queueCapacity: 128 });
    const events = small.subscribe('t');
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 7 + round; i++) small.publish('t', next++);
      const batch = await take(events, 3 + round);
      for (const value of batch) expect(value).toBe(expected++);
    }
    const rest = await take(events, next - expected);
    for (const value of rest) expect(value).toBe(expected++);
    expect(small.dropped).toBe(0);
    // Drained, it starts over with a small buffer.
    small.publish('t', 'again');
    expect(await take(events, 1)).toEqual(['again']);
    await small.close();
  });

  it('rejects a bad queue capacity and type-graphql topicId routing, which it does not support', () => {
    expect(() => new LocalEventBus({ queueCapacity: 0 })).toThrow(RangeError);
    expect(() => bus.subscribe('t', 'tenant-1')).toThrow(/topicId/);
    expect(bus.subscribers).toBe(0);
  });

  it('fans one event out to 1,000 waiting subscribers quickly', async () => {
    const subscriptions = Array.from({ length: 1_000 }, () => bus.subscribe('t'));
    const rounds = 50;
    let publishNs = 0n;
    for (let round = 0; round < rounds; round++) {
      const waiting = subscriptions.map((events) => events.next());
      const start = process.hrtime.bigint();
      bus.publish('t', round);
      publishNs += process.hrtime.bigint() - start;
      await Promise.all(waiting);
    }
    const perPublishMs = Number(publishNs / BigInt(rounds)) / 1e6;
    // A loose bound that only an O(n²) or allocating fan-out would break on a slow CI machine.
    expect(perPublishMs).toBeLessThan(20);
    await flush();
  });
});

describe('createEventBus', () => {
  it('makes an in-process bus when no Redis URL is given', async () => {
    const bus = createEventBus({ logger: new Logger('silent') });
    expect(bus).toBeInstanceOf(LocalEventBus);
    await bus.close();
  });
});
