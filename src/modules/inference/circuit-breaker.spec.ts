import { BadInputError, ErrorCode, UnavailableError } from '../../common/errors';
import { CircuitBreaker, CircuitState } from './circuit-breaker';

class ServerDown extends Error {}

const fail = (): Promise<never> => Promise.reject(new ServerDown('boom'));
const succeed = (): Promise<string> => Promise.resolve('ok');

/** A breaker on a hand-moved clock; 4xx-like errors (BadInputError) do not count. */
function setup(options: { failureThreshold?: number; openMs?: number } = {}) {
  const clock = { t: 1_000_000 };
  const breaker = new CircuitBreaker({
    ...options,
    now: () => clock.t,
    label: 'model server http://10.0.0.5:8000',
    isFailure: (error) => !(error instanceof BadInputError),
  });
  return { clock, breaker };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breaker.call(fail)).rejects.toBeInstanceOf(ServerDown);
}

describe('CircuitBreaker', () => {
  it('passes results and errors through while closed', async () => {
    const { breaker } = setup();
    await expect(breaker.call(succeed)).resolves.toBe('ok');
    await expect(breaker.call(fail)).rejects.toBeInstanceOf(ServerDown);
    expect(breaker.state).toBe(CircuitState.CLOSED);
    expect(breaker.retryAfterMs()).toBe(0);
  });

  it('opens after the threshold of consecutive failures, not before', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 4);
    expect(breaker.state).toBe(CircuitState.CLOSED);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe(CircuitState.OPEN);
  });

  it('counts only consecutive failures: a success resets the count', async () => {
    const { breaker } = setup({ failureThreshold: 3 });
    await failTimes(breaker, 2);
    await breaker.call(succeed);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe(CircuitState.CLOSED);
    expect(breaker.consecutiveFailures).toBe(2);
  });

  it('rejects at once while open, without calling, saying when to retry', async () => {
    const { clock, breaker } = setup({ openMs: 10_000 });
    await failTimes(breaker, 5);
    clock.t += 3_000;
    const fn = jest.fn(succeed);
    const error = await breaker.call(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((error as UnavailableError).message).toBe(
      'model server http://10.0.0.5:8000 is unavailable: circuit open after 5 consecutive failures; retry in 7s',
    );
    expect((error as UnavailableError).extensions).toEqual({ retryAfterSeconds: 7 });
    expect(breaker.retryAfterMs()).toBe(7_000);
  });

  it('rounds a sub-second wait up to 1 s', async () => {
    const { clock, breaker } = setup({ openMs: 10_000 });
    await failTimes(breaker, 5);
    clock.t += 9_999;
    await expect(breaker.call(succeed)).rejects.toMatchObject({ extensions: { retryAfterSeconds: 1 } });
  });

  it('lets exactly one probe through once the open period ends; others are rejected meanwhile', async () => {
    const { clock, breaker } = setup({ openMs: 10_000 });
    await failTimes(breaker, 5);
    clock.t += 10_000;
    expect(breaker.state).toBe(CircuitState.HALF_OPEN);

    let finish!: (value: string) => void;
    const probe = breaker.call(() => new Promise<string>((resolve) => (finish = resolve)));
    const other = jest.fn(succeed);
    await expect(breaker.call(other)).rejects.toThrow(/a probe is in flight; retry in 1s/);
    expect(other).not.toHaveBeenCalled();
    expect(breaker.state).toBe(CircuitState.HALF_OPEN);

    finish('probed');
    await expect(probe).resolves.toBe('probed');
    expect(breaker.state).toBe(CircuitState.CLOSED);
    expect(breaker.consecutiveFailures).toBe(0);
    await expect(breaker.call(other)).resolves.toBe('ok');
  });

  it('reopens for a full period when the probe fails', async () => {
    const { clock, breaker } = setup({ openMs: 10_000 });
    await failTimes(breaker, 5);
    clock.t += 10_000;
    await expect(breaker.call(fail)).rejects.toBeInstanceOf(ServerDown);
    expect(breaker.state).toBe(CircuitState.OPEN);
    expect(breaker.retryAfterMs()).toBe(10_000);
    await expect(breaker.call(succeed)).rejects.toThrow(
      'circuit open after 6 consecutive failures; retry in 10s',
    );
    clock.t += 10_000;
    await expect(breaker.call(succeed)).resolves.toBe('ok');
    expect(breaker.state).toBe(CircuitState.CLOSED);
  });

  it('does not count caller errors, and treats them as proof the dependency answers', async () => {
    const { clock, breaker } = setup({ failureThreshold: 2 });
    const badInput = () => Promise.reject(new BadInputError('inputs', 'wrong shape'));
    for (let i = 0; i < 10; i++) await expect(breaker.call(badInput)).rejects.toBeInstanceOf(BadInputError);
    expect(breaker.state).toBe(CircuitState.CLOSED);

    await failTimes(breaker, 1);
    await expect(breaker.call(badInput)).rejects.toBeInstanceOf(BadInputError);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe(CircuitState.CLOSED);

    await failTimes(breaker, 1);
    expect(breaker.state).toBe(CircuitState.OPEN);
    clock.t += 10_000;
    await expect(breaker.call(badInput)).rejects.toBeInstanceOf(BadInputError);
    expect(breaker.state).toBe(CircuitState.CLOSED);
  });

  it('ignores the outcome of a call that started before the circuit changed', async () => {
    const { clock, breaker } = setup({ failureThreshold: 2, openMs: 1_000 });
    let finishSlow!: (value: string) => void;
    const slow = breaker.call(() => new Promise<string>((resolve) => (finishSlow = resolve)));
    await failTimes(breaker, 2);
    expect(breaker.state).toBe(CircuitState.OPEN);

    finishSlow('late');
    await expect(slow).resolves.toBe('late');
    expect(breaker.state).toBe(CircuitState.OPEN);

    clock.t += 1_000;
    await expect(breaker.call(fail)).rejects.toBeInstanceOf(ServerDown);
    expect(breaker.state).toBe(CircuitState.OPEN);
  });

  it('counts every error by default and runs on the real clock without options', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    await expect(breaker.call(() => Promise.reject(new BadInputError('x', 'y')))).rejects.toBeInstanceOf(
      BadInputError,
    );
    await expect(breaker.call(succeed)).rejects.toThrow(/^dependency is unavailable: circuit open/);
  });

  it('refuses a nonsensical threshold', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
  });
});
