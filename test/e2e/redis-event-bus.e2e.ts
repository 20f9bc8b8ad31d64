import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Logger } from '../../src/common/logger';
import { createEventBus } from '../../src/events';
import { CHANNEL_PREFIX, RedisEventBus } from '../../src/events/redis-event-bus';
import { REDIS_URL, redisReachable } from '../support/redis';

const reachable = redisReachable(REDIS_URL);
if (!reachable) {
  console.warn(
    `Skipping the Redis event bus suite: no Redis answers at ${REDIS_URL} (set REDIS_URL to test one).`,
  );
}
const describeRedis = reachable ? describe : describe.skip;

const unique = (name: string): string => `test-${name}-${randomBytes(4).toString('hex')}`;
const quiet = new Logger('silent');

async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The next value of `events`, failing the test instead of hanging when none comes. */
async function nextValue(events: AsyncIterator<unknown>, timeoutMs = 5_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const result = await Promise.race([events.next(), timeout]);
    if (result.done) throw new Error('the subscription ended');
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

describeRedis('RedisEventBus against a real Redis', () => {
  /** A plain connection, as an operator would use: PUBSUB NUMSUB, CLIENT LIST, raw PUBLISH. */
  let admin: Redis;
  const buses: RedisEventBus[] = [];
  /** A bus as one replica would hold it, with client names this test can find in CLIENT LIST. */
  const replica = (name = unique('replica')): RedisEventBus => {
    const bus = new RedisEventBus({ url: REDIS_URL, logger: quiet, clientName: name });
    buses.push(bus);
    return bus;
  };
  const numsub = async (topic: string): Promise<number> => {
    const reply = (await admin.pubsub('NUMSUB', CHANNEL_PREFIX + topic)) as [string, number];
    return Number(reply[1]);
  };
  /** The server-side id of the named connection, or undefined while it is not connected. */
  const clientId = async (name: string): Promise<string | undefined> => {
    const list = (await admin.client('LIST')) as string;
    return list
      .split('\n')
      .map((line) => Object.fromEntries(line.split(' ').map((field) => field.split('=', 2))))
      .find((client) => client.name === name)?.id;
  };

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  afterAll(async () => {
    await admin.quit();
  });

  it('delivers an event published on one replica exactly once to subscribers on both', async () => {
    const [a, b] = [replica(), replica()];
    const topic = unique('fanout');
    const onA = a.subscribe(topic);
    const onB = [b.subscribe(topic), b.subscribe(topic)];
    await Promise.all([a.settled(), b.settled()]);

    const at = new Date('2026-01-02T03:04:05.678Z');
    a.publish(topic, { n: 1, at });
    // Everything on one channel arrives in one order: a duplicate of the first event would come
    // before this marker.
    for (const events of [onA, ...onB]) {
      expect(await nextValue(events)).toEqual({ n: 1, at: '2026-01-02T03:04:05.678Z' });
    }
    b.publish(topic, 'marker');
    for (const events of [onA, ...onB]) expect(await nextValue(events)).toBe('marker');
    expect(a.publishFailures + b.publishFailures).toBe(0);
  });

  it('fans one event out to 1,000 subscribers on another replica', async () => {
    const [a, b] = [replica(), replica()];
    const topic = unique('thousand');
    const subscriptions = Array.from({ length: 1_000 }, () => b.subscribe(topic));
    await b.settled();
    expect(await numsub(topic)).toBe(1);
    const waiting = subscriptions.map((events) => nextValue(events));
    a.publish(topic, { alert: 'a1' });
    const values = await Promise.all(waiting);
    expect(values.every((value) => (value as { alert: string }).alert === 'a1')).toBe(true);
    await Promise.all(subscriptions.map((events) => events.return!()));
    expect(b.subscribers).toBe(0);
  });

  it('subscribes a channel once per process and unsubscribes it with its last local subscriber', async () => {
    const [a, b] = [replica(), replica()];
    const topic = unique('numsub');
    expect(await numsub(topic)).toBe(0);
    const first = b.subscribe(topic);
    const second = b.subscribe(topic);
    await b.settled();
    expect(await numsub(topic)).toBe(1);
    const onA = a.subscribe(topic);
    await a.settled();
    expect(await numsub(topic)).toBe(2);

    await first.return!();
    await b.settled();
    expect(await numsub(topic)).toBe(2);
    await second.return!();
    await b.settled();
    expect(await numsub(topic)).toBe(1);
    expect(b.subscribers).toBe(0);

    await onA.return!();
    await a.settled();
    expect(await numsub(topic)).toBe(0);

    // Back again after leaving: a new subscriber re-subscribes the channel.
    const again = b.subscribe(topic);
    await b.settled();
    expect(await numsub(topic)).toBe(1);
    a.publish(topic, 'back');
    expect(await nextValue(again)).toBe('back');
  });

  it('keeps a subscription made while its connection is still handshaking', async () => {
    // ioredis writes a SUBSCRIBE at once during the handshake; its ready check then fails in subscriber
    // mode, it reconnects, and forgets the channel. The bus must subscribe only once ready.
    for (let i = 0; i < 10; i++) {
      const bus = replica();
      const topic = unique('handshake');
      const connection = (bus as unknown as { subscriber: Redis }).subscriber;
      await new Promise<void>((resolve) => connection.once('connect', () => resolve()));
      const events = bus.subscribe(topic);
      await bus.settled();
      expect(await numsub(topic)).toBe(1);
      await events.return!();
    }
  });

  it('resubscribes after its subscriber connection is killed, and keeps delivering once', async () => {
    const name = unique('killed');
    const [a, b] = [replica(), replica(name)];
    const topic = unique('reconnect');
    const events = b.subscribe(topic);
    await b.settled();
    const killed = await clientId(`${name}-sub`);
    expect(killed).toBeDefined();
    await admin.client('KILL', 'ID', killed!);
    await eventually(async () => {
      const id = await clientId(`${name}-sub`);
      return id !== undefined && id !== killed && (await numsub(topic)) === 1;
    }, 'the subscriber reconnected and resubscribed');

    a.publish(topic, 'after reconnect');
    expect(await nextValue(events)).toBe('after reconnect');
    a.publish(topic, 'marker');
    expect(await nextValue(events)).toBe('marker');
  });

  it('never throws into a publisher whose connection dropped, and publishes again once it is back', async () => {
    const name = unique('publisher');
    const [a, b] = [replica(name), replica()];
    const topic = unique('blip');
    const events = b.subscribe(topic);
    await b.settled();
    const killed = await clientId(`${name}-pub`);
    await admin.client('KILL', 'ID', killed!);
    expect(() => a.publish(topic, 'during the blip')).not.toThrow();
    await eventually(async () => {
      const id = await clientId(`${name}-pub`);
      return id !== undefined && id !== killed;
    }, 'the publisher reconnected');

    a.publish(topic, 'after');
    // The event published during the blip may be delivered or lost, never twice.
    const received: unknown[] = [];
    while (received.at(-1) !== 'after') received.push(await nextValue(events));
    expect(['during the blip', 'after'].slice(-received.length)).toEqual(received);
  });

  it('counts what it cannot send or read instead of throwing', async () => {
    const [a, b] = [replica(), replica()];
    const topic = unique('bad');
    const events = b.subscribe(topic);
    await b.settled();
    expect(() => a.publish(topic, { big: 1n })).not.toThrow();
    expect(a.publishFailures).toBe(1);

    await admin.publish(CHANNEL_PREFIX + topic, 'not json');
    a.publish(topic, { ok: true });
    expect(await nextValue(events)).toEqual({ ok: true });
    expect(b.receiveFailures).toBe(1);
  });

  it('keeps a request path safe when Redis is unreachable, and closes without waiting for it', async () => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const down = new RedisEventBus({
        url: 'redis://127.0.0.1:1',
        logger: new Logger('warn'),
        publishTimeoutMs: 200,
      });
      const events = down.subscribe('anything');
      for (let i = 0; i < 3; i++) expect(() => down.publish('anything', { i })).not.toThrow();
      await eventually(() => down.publishFailures === 3, 'three publishes failed');
      expect(down.subscribers).toBe(1);
      const started = Date.now();
      await down.close();
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await events.next()).toEqual({ value: undefined, done: true });
      expect(down.subscribers).toBe(0);
      const lines = stderr.mock.calls.map(([chunk]) => String(chunk));
      expect(lines.some((line) => line.includes('event publish failed'))).toBe(true);
      expect(lines.some((line) => line.includes('redis connection lost'))).toBe(true);
    } finally {
      stderr.mockRestore();
    }
  });

  it('closes both connections and ends its subscriptions; close() twice is harmless', async () => {
    const name = unique('closing');
    const bus = new RedisEventBus({ url: REDIS_URL, logger: quiet, clientName: name });
    const topic = unique('close');
    const events = bus.subscribe(topic);
    await bus.settled();
    expect(await clientId(`${name}-sub`)).toBeDefined();
    const waiting = events.next();
    await Promise.all([bus.close(), bus.close()]);
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(bus.subscribers).toBe(0);
    await eventually(
      async () =>
        (await clientId(`${name}-sub`)) === undefined && (await clientId(`${name}-pub`)) === undefined,
      'both connections are gone from CLIENT LIST',
    );
    expect(await numsub(topic)).toBe(0);
    expect(() => bus.publish(topic, 'after close')).not.toThrow();
  });

  it('is what createEventBus makes when given a Redis URL', async () => {
    const bus = createEventBus({ redisUrl: REDIS_URL, logger: quiet });
    expect(bus).toBeInstanceOf(RedisEventBus);
    await bus.close();
  });
});
