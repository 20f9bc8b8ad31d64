import { DomainError, ErrorCode } from '../common/errors';
import type { RateLimits } from '../config/config';
import type { Role } from '../common/role';
import type { Principal } from './abilities';

/** A bucket refills from empty to full in one minute, whatever its role's limit. */
const REFILL_MS = 60_000;
/**
 * One request, in the bucket's units: a bucket of limit L holds L × 60,000 units and gains L units a
 * millisecond, so every step is integer arithmetic and a retry-after never drifts by a rounding error.
 */
const COST = REFILL_MS;
/** Idle buckets dropped per request at most: enough to outpace creation, so the sweep is O(1). */
const SWEEP_PER_REQUEST = 2;

interface Bucket {
  units: number;
  /** The clock's reading when `units` was last brought up to date. */
  at: number;
}

export interface RateLimiterOptions {
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
  /**
   * Most buckets kept. Past it the least recently used key is forgotten, and starts again from a full
   * bucket: lenient for that key, never stricter. Idle keys go long before that (see {@link RateLimiter}).
   */
  maxKeys?: number;
}

/**
 * RATE_LIMITED: the key used up its requests for now. `retryAfterSeconds` is when one more request
 * will be admitted, if the key sends nothing else meanwhile.
 */
export class RateLimitedError extends DomainError {
  constructor(
    readonly role: Role,
    readonly limit: number,
    readonly retryAfterSeconds: number,
    keyName: string,
  ) {
    super(
      ErrorCode.RATE_LIMITED,
      `${role} key "${keyName}" is over ${limit} requests per minute; retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }
}

/**
 * A token bucket per API key: capacity is the key's role's limit per minute (so a quiet key may burst
 * that many at once), refilled continuously at the same rate per minute. O(1) per request.
 *
 * Memory stays bounded: buckets are kept in least-recently-used order, and a bucket idle for a whole
 * minute is full again, which is exactly a key never seen, so each request drops up to two such buckets
 * from the cold end. A hard cap (`maxKeys`) covers a flood of distinct keys within one minute.
 *
 * The count is per process: N replicas behind a round-robin balancer admit up to N × the limit.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(
    private readonly limits: RateLimits,
    options: RateLimiterOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  /** Requests per minute for a role; 0 is unlimited. */
  limitFor(role: Role): number {
    return this.limits[role] ?? 0;
  }

  /** Buckets held now (keys seen in the last minute, at most `maxKeys`). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes one request from the key's bucket: 0 when admitted, else the whole seconds (≥ 1) until the
   * bucket holds a request again. A refused request takes nothing.
   */
  take(keyId: string, role: Role): number {
    const limit = this.limitFor(role);
    if (limit <= 0) return 0;
    const now = this.now();
    const capacity = limit * COST;
    let bucket = this.buckets.get(keyId);
    if (bucket) {
      // Re-inserted to mark it most recently used; a clock that went back refills nothing.
      this.buckets.delete(keyId);
      const elapsed = Math.min(Math.max(0, now - bucket.at), REFILL_MS);
      bucket.units = Math.min(capacity, bucket.units + elapsed * limit);
      bucket.at = now;
    } else {
      bucket = { units: capacity, at: now };
    }
    this.buckets.set(keyId, bucket);
    this.sweep(now);
    if (bucket.units >= COST) {
      bucket.units -= COST;
      return 0;
    }
    const waitMs = Math.ceil((COST - bucket.units) / limit);
    return Math.max(1, Math.ceil(waitMs / 1000));
  }

  /** Counts one request of the principal's key: undefined when admitted, else the RATE_LIMITED to answer. */
  check(principal: Principal): RateLimitedError | undefined {
    const retryAfterSeconds = this.take(principal.keyId, principal.role);
    if (retryAfterSeconds === 0) return undefined;
    return new RateLimitedError(
      principal.role,
      this.limitFor(principal.role),
      retryAfterSeconds,
      principal.name,
    );
  }

  /** Drops buckets full again from the cold end, and the coldest ones past `maxKeys`. */
  private sweep(now: number): void {
    let dropped = 0;
    for (const [keyId, bucket] of this.buckets) {
      const idle = now - bucket.at >= REFILL_MS;
      if (!(idle && dropped < SWEEP_PER_REQUEST) && this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(keyId);
      dropped++;
    }
  }
}
