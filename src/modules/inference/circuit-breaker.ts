import { UnavailableError } from '../../common/errors';

/** Where a {@link CircuitBreaker} stands. */
export enum CircuitState {
  /** Calls pass; consecutive failures are counted. */
  CLOSED = 'CLOSED',
  /** Calls are rejected at once until the open period ends. */
  OPEN = 'OPEN',
  /** The open period has ended: the next call is a probe, and only one probe runs at a time. */
  HALF_OPEN = 'HALF_OPEN',
}

/** How a {@link CircuitBreaker} behaves. Every field has a default. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before a probe may pass, in ms. Default 10_000. */
  openMs?: number;
  /** The clock, in ms. Default `Date.now`; tests inject their own. */
  now?: () => number;
  /**
   * Whether an error says the dependency is unhealthy. Errors it rejects (a caller's invalid input
   * answered with a 4xx) prove the dependency answered: they reset the count and close a half-open
   * circuit, like a success. Default: every error counts.
   */
  isFailure?: (error: unknown) => boolean;
  /** Names the dependency in the open-circuit error, e.g. `model server http://10.0.0.5:8000`. */
  label?: string;
}

/**
 * Stops calling a dependency that keeps failing, so callers fail fast instead of queueing behind
 * timeouts, and the dependency gets room to recover: after `failureThreshold` consecutive failures
 * the circuit opens for `openMs`, then a single probe decides whether it closes or opens again.
 */
export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly label: string;

  private current = CircuitState.CLOSED;
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  /*
   * Bumped on every transition: a call that started before the circuit changed (a slow success landing
   * after it opened) must not move it, or one straggler would undo what the probe is there to decide.
   */
  private generation = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.openMs = options.openMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.isFailure = options.isFailure ?? (() => true);
    this.label = options.label ?? 'dependency';
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1)
      throw new RangeError('failureThreshold must be a positive integer');
    if (!(this.openMs >= 0)) throw new RangeError('openMs must not be negative');
  }

  /** The state as callers see it now: an open circuit whose period has ended reports HALF_OPEN. */
  get state(): CircuitState {
    if (this.current === CircuitState.OPEN && this.now() >= this.openUntil) return CircuitState.HALF_OPEN;
    return this.current;
  }

  /** Consecutive failures counted so far (reset by a success). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds until a probe may pass: 0 when closed, or when half-open with no probe running. */
  retryAfterMs(): number {
    if (this.current !== CircuitState.OPEN) return 0;
    return Math.max(0, this.openUntil - this.now());
  }

  /**
   * Runs `fn` unless the circuit is open. Throws UnavailableError (with `retryAfterSeconds`) without
   * calling `fn` while open, or while another call is probing; otherwise returns or rethrows what
   * `fn` does, counting the outcome.
   */
  async call<T>(fn: () => Promise<T>): Promise<T> {
    const generation = this.admit();
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      if (this.isFailure(error)) this.onFailure(generation);
      else this.onSuccess(generation);
      throw error;
    }
    this.onSuccess(generation);
    return result;
  }

  /** Lets the call through (returning the generation it runs in) or throws the open-circuit error. */
  private admit(): number {
    if (this.current === CircuitState.OPEN) {
      if (this.now() < this.openUntil) throw this.openError();
      this.transition(CircuitState.HALF_OPEN);
      this.probing = true;
      return this.generation;
    }
    if (this.current === CircuitState.HALF_OPEN) {
      if (this.probing) throw this.openError();
      this.probing = true;
    }
    return this.generation;
  }

  private onSuccess(generation: number): void {
    if (generation !== this.generation) return;
    this.failures = 0;
    if (this.current === CircuitState.HALF_OPEN) {
      this.probing = false;
      this.transition(CircuitState.CLOSED);
    }
  }

  private onFailure(generation: number): void {
    if (generation !== this.generation) return;
    this.failures++;
    if (this.current === CircuitState.HALF_OPEN || this.failures >= this.failureThreshold) {
      this.probing = false;
      this.openUntil = this.now() + this.openMs;
      this.transition(CircuitState.OPEN);
    }
  }

  private transition(to: CircuitState): void {
    this.current = to;
    this.generation++;
  }

  private openError(): UnavailableError {
    const ms = this.retryAfterMs();
    // A caller told to retry in 0 s would hammer us while a probe is running; 1 s is the floor.
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    const why =
      this.current === CircuitState.HALF_OPEN
        ? `circuit half-open after ${this.failures} consecutive failures, a probe is in flight`
        : `circuit open after ${this.failures} consecutive failures`;
    return new UnavailableError(`${this.label} is unavailable: ${why}; retry in ${seconds}s`, seconds);
  }
}
