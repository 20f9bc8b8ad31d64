import {
  ConfigError,
  DEFAULT_RATE_LIMITS,
  UNLIMITED_RATE_LIMITS,
  loadConfig,
  type RateLimits,
} from '../config/config';
import { ErrorCode } from '../common/errors';
import { Role } from '../common/role';
import { RateLimitedError, RateLimiter } from './rate-limiter';

const limits: RateLimits = { ...DEFAULT_RATE_LIMITS, BOT: 60, VIEWER: 6, ADMIN: 0 };

describe('RateLimiter', () => {
  let clock: number;
  const limiter = (options: { maxKeys?: number } = {}): RateLimiter =>
    new RateLimiter(limits, { now: () => clock, ...options });
  /** Takes `n` requests at once; the retry-after of each. */
  const takeMany = (l: RateLimiter, n: number, key = 'k', role = Role.BOT): number[] =>
    Array.from({ length: n }, () => l.take(key, role));

  beforeEach(() => {
    clock = 1_700_000_000_000;
  });

  it('admits a burst of the whole per-minute limit, then refuses', () => {
    const l = limiter();
    expect(takeMany(l, 60)).toEqual(Array(60).fill(0));
    expect(l.take('k', Role.BOT)).toBe(1);
    // A refusal takes nothing: the wait does not grow with retries.
    expect(takeMany(l, 5)).toEqual(Array(5).fill(1));
  });

  it('refills continuously at the limit per minute, never past the capacity', () => {
    const l = limiter();
    takeMany(l, 60);
    clock += 999;
    expect(l.take('k', Role.BOT)).toBe(1);
    clock += 1;
    expect(l.take('k', Role.BOT)).toBe(0);
    expect(l.take('k', Role.BOT)).toBe(1);
    clock += 10_500;
    expect(takeMany(l, 11)).toEqual([...Array(10).fill(0), 1]);
    // Hours idle still refill only one minute's worth.
    clock += 5 * 3_600_000;
    expect(takeMany(l, 61)).toEqual([...Array(60).fill(0), 1]);
  });

  it('says exactly when the next request will be admitted, in whole seconds', () => {
    const l = limiter();
    // VIEWER: 6 per minute, one every 10 s.
    expect(takeMany(l, 6, 'v', Role.VIEWER)).toEqual(Array(6).fill(0));
    expect(l.take('v', Role.VIEWER)).toBe(10);
    clock += 3_500;
    expect(l.take('v', Role.VIEWER)).toBe(7); // 6.5 s left, rounded up
    clock += 6_499;
    expect(l.take('v', Role.VIEWER)).toBe(1); // 1 ms left still says 1 s, never 0
    clock += 1;
    expect(l.take('v', Role.VIEWER)).toBe(0);
    expect(l.take('v', Role.VIEWER)).toBe(10);
    // Ten minutes of steady use at exactly the limit, on the retry-after it gives: no drift.
    for (let i = 0; i < 60; i++) {
      const wait = l.take('v', Role.VIEWER);
      clock += wait * 1000;
      expect(l.take('v', Role.VIEWER)).toBe(0);
    }
  });

  it('keeps a bucket per key: one key over its limit leaves another of the same role alone', () => {
    const l = limiter();
    takeMany(l, 61, 'a');
    expect(l.take('a', Role.BOT)).toBe(1);
    expect(takeMany(l, 60, 'b')).toEqual(Array(60).fill(0));
  });

  it('never limits a role whose limit is 0, and keeps no bucket for it', () => {
    const l = limiter();
    expect(takeMany(l, 10_000, 'admin', Role.ADMIN).every((wait) => wait === 0)).toBe(true);
    expect(l.size).toBe(0);
  });

  it('refills nothing when the clock goes back', () => {
    const l = limiter();
    takeMany(l, 60);
    clock -= 30_000;
    expect(l.take('k', Role.BOT)).toBe(1);
    clock += 1_000;
    expect(l.take('k', Role.BOT)).toBe(0);
  });

  it('forgets keys idle for a minute (their buckets are full again), a couple per request', () => {
    const l = limiter();
    for (let i = 0; i < 100; i++) l.take(`idle-${i}`, Role.BOT);
    takeMany(l, 60, 'busy');
    expect(l.size).toBe(101);
    clock += 60_000;
    l.take('busy', Role.BOT);
    expect(l.size).toBe(99);
    for (let i = 0; i < 60; i++) l.take('busy', Role.BOT);
    expect(l.size).toBe(1);
    // A forgotten key starts from a full bucket, as it would have had anyway.
    expect(takeMany(l, 61, 'idle-0')).toEqual([...Array(60).fill(0), 1]);
  });

  it('holds at most maxKeys buckets, forgetting the least recently used', () => {
    const l = limiter({ maxKeys: 3 });
    takeMany(l, 60, 'a');
    l.take('b', Role.BOT);
    l.take('c', Role.BOT);
    takeMany(l, 60, 'a'); // a is now the most recently used (and empty)
    l.take('d', Role.BOT);
    expect(l.size).toBe(3);
    expect(l.take('a', Role.BOT)).toBe(1); // kept
    expect(takeMany(l, 60, 'b')).toEqual(Array(60).fill(0)); // forgotten: a full bucket again
  });

  it('names the role, key, limit and wait in the RATE_LIMITED error', () => {
    const l = limiter();
    const principal = { keyId: 'k1', name: 'crm-sync', role: Role.VIEWER, projectIds: null };
    for (let i = 0; i < 6; i++) expect(l.check(principal)).toBeUndefined();
    clock += 2_000;
    const error = l.check(principal);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({
      code: ErrorCode.RATE_LIMITED,
      httpStatus: 429,
      message: 'VIEWER key "crm-sync" is over 6 requests per minute; retry in 8 s',
      extensions: { retryAfterSeconds: 8 },
    });
  });
});

describe('NERVE_RATE_LIMITS', () => {
  const problems = (value: string): string[] => {
    try {
      loadConfig({ NERVE_RATE_LIMITS: value });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('defaults every role, machine callers higher than people, ADMIN unlimited', () => {
    const { rateLimits } = loadConfig({});
    expect(rateLimits).toEqual(DEFAULT_RATE_LIMITS);
    expect(Object.keys(rateLimits).sort()).toEqual(Object.values(Role).sort());
    expect(rateLimits.BOT).toBeGreaterThan(rateLimits.VIEWER);
    expect(rateLimits.ADMIN).toBe(0);
    expect(UNLIMITED_RATE_LIMITS).toEqual(Object.fromEntries(Object.values(Role).map((r) => [r, 0])));
  });

  it('overrides the roles it names and keeps the defaults of the others', () => {
    const { rateLimits } = loadConfig({ NERVE_RATE_LIMITS: ' BOT=600, VIEWER = 300 ,ADMIN=0,' });
    expect(rateLimits).toEqual({ ...DEFAULT_RATE_LIMITS, BOT: 600, VIEWER: 300, ADMIN: 0 });
  });

  it('lists every bad entry, naming the variable', () => {
    expect(
      problems('BOT=fast,ROBOT=10,VIEWER,ADMIN=-1,ANALYST=1.5,AUDITOR=2000000,BOT=1,APPROVER=5'),
    ).toEqual([
      'NERVE_RATE_LIMITS: BOT must be an integer between 0 (unlimited) and 1000000, got "fast"',
      'NERVE_RATE_LIMITS: unknown role "ROBOT" (BOT, DATA_SCIENTIST, ML_ENGINEER, VIEWER, ANALYST, APPROVER, AUDITOR, ADMIN)',
      'NERVE_RATE_LIMITS: "VIEWER" is not ROLE=requests-per-minute',
      'NERVE_RATE_LIMITS: ADMIN must be an integer between 0 (unlimited) and 1000000, got "-1"',
      'NERVE_RATE_LIMITS: ANALYST must be an integer between 0 (unlimited) and 1000000, got "1.5"',
      'NERVE_RATE_LIMITS: AUDITOR must be an integer between 0 (unlimited) and 1000000, got "2000000"',
      'NERVE_RATE_LIMITS: BOT is given twice',
    ]);
  });
});
