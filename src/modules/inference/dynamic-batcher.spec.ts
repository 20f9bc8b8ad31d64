import type { InputSlot, ScoredOutputs, ScoringBackend } from './backend';
import { BatchStats, DynamicBatcher, sliceRows } from './dynamic-batcher';

/** A backend that doubles every feature and remembers the batch sizes it saw; runs finish on demand. */
class FakeBackend implements ScoringBackend {
  readonly provider = 'cpu';
  readonly batches: number[] = [];
  private pending: Array<() => void> = [];
  failWhen: (features: Float32Array) => boolean = () => false;
  manual = false;

  run(
    _inputs: readonly InputSlot[],
    features: Float32Array,
    rows: number,
    width: number,
  ): Promise<ScoredOutputs> {
    this.batches.push(rows);
    const answer = (): ScoredOutputs => {
      if (this.failWhen(features)) throw new Error('poisoned batch');
      return {
        out: { data: features.map((x) => x * 2), dims: [rows, width] },
        scalar: { data: new Float32Array([7]), dims: [1] },
      };
    };
    if (!this.manual) return Promise.resolve().then(answer);
    return new Promise((resolve, reject) =>
      this.pending.push(() => {
        try {
          resolve(answer());
        } catch (error) {
          reject(error);
        }
      }),
    );
  }

  finishAll(): void {
    const now = this.pending;
    this.pending = [];
    for (const finish of now) finish();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The fake model's one input, two columns wide. */
const X = [{ name: 'x', offset: 0, width: 2 }];

const rowsOf = (...values: number[]): Float32Array => Float32Array.from(values.flatMap((v) => [v, v + 0.5]));

/**
 * Ends the current event-loop turn under fake timers: runs the pending `setImmediate` callbacks (and
 * any timer due now), settling promises between them.
 */
const endTurn = (): Promise<void> => jest.advanceTimersByTimeAsync(0);

describe('DynamicBatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  describe('with queue delay 0', () => {
    const delay0 = (maxBatchSize: number, maxInFlight: number) => ({
      maxBatchSize,
      maxQueueDelayMs: 0,
      maxInFlight,
    });

    it('runs the requests of one event-loop turn as one batch, with a single setImmediate and no timer', async () => {
      const backend = new FakeBackend();
      const stats = new BatchStats();
      const batcher = new DynamicBatcher(backend, X, 2, delay0(8, 1), stats);
      const a = batcher.submit(rowsOf(1), 1);
      const b = batcher.submit(rowsOf(2, 3), 2);
      const c = batcher.submit(rowsOf(4), 1);
      // Nothing runs before the turn ends, and three requests schedule one callback between them.
      expect(backend.batches).toEqual([]);
      expect(batcher.depth).toBe(4);
      expect(jest.getTimerCount()).toBe(1);
      jest.runOnlyPendingTimers();
      expect(backend.batches).toEqual([4]);
      expect(batcher.depth).toBe(0);
      expect(jest.getTimerCount()).toBe(0);
      expect(Array.from((await a).out.data)).toEqual([2, 3]);
      expect(Array.from((await b).out.data)).toEqual([4, 5, 6, 7]);
      expect((await b).out.dims).toEqual([2, 2]);
      expect(Array.from((await c).out.data)).toEqual([8, 9]);
      // An output without the batch dimension goes to every request whole.
      expect(Array.from((await c).scalar.data)).toEqual([7]);
      expect(stats.batches).toBe(1);
      expect(stats.rows).toBe(4);
    });

    it('sends a full batch, and a request larger than the max batch size, at once without waiting', async () => {
      const backend = new FakeBackend();
      const batcher = new DynamicBatcher(backend, X, 2, delay0(3, 2), new BatchStats());
      const full = [1, 2, 3].map((v) => batcher.submit(rowsOf(v), 1));
      expect(backend.batches).toEqual([3]);
      const large = batcher.submit(rowsOf(4, 5, 6, 7, 8), 5);
      expect(backend.batches).toEqual([3, 5]);
      expect(jest.getTimerCount()).toBe(0);
      expect(Array.from((await large).out.data)).toHaveLength(10);
      await Promise.all(full);
    });

    it('merges requests queued while the backend is busy and runs them as soon as it has room', async () => {
      const backend = new FakeBackend();
      backend.manual = true;
      const stats = new BatchStats();
      const batcher = new DynamicBatcher(backend, X, 2, delay0(8, 1), stats);
      const first = batcher.submit(rowsOf(1), 1);
      await endTurn();
      expect(backend.batches).toEqual([1]);
      const queued = [
        batcher.submit(rowsOf(2, 3), 2),
        batcher.submit(rowsOf(4), 1),
        batcher.submit(rowsOf(5), 1),
      ];
      // Their turn ends while the backend is busy: they wait for it, not for another turn.
      await endTurn();
      expect(backend.batches).toEqual([1]);
      expect(batcher.depth).toBe(4);
      backend.finishAll();
      expect(Array.from((await first).out.data)).toEqual([2, 3]);
      expect(backend.batches).toEqual([1, 4]);
      backend.finishAll();
      const [a, b, c] = await Promise.all(queued);
      expect(Array.from(a.out.data)).toEqual([4, 5, 6, 7]);
      expect(Array.from(b.out.data)).toEqual([8, 9]);
      expect(Array.from(c.out.data)).toEqual([10, 11]);
      expect(stats.batches).toBe(2);
      expect(stats.rows).toBe(5);
    });

    it('never exceeds the max batch size, except a single larger request which runs alone', async () => {
      const backend = new FakeBackend();
      backend.manual = true;
      const batcher = new DynamicBatcher(backend, X, 2, delay0(3, 1), new BatchStats());
      const all = [0, 1, 2, 3, 4, 5, 6, 7].map((v) => batcher.submit(rowsOf(v), 1));
      all.push(batcher.submit(rowsOf(8, 9, 10, 11, 12), 5));
      for (let round = 0; round < 6; round++) {
        await endTurn();
        backend.finishAll();
      }
      await Promise.all(all);
      expect(backend.batches).toEqual([3, 3, 2, 5]);
    });

    it('keeps up to maxInFlight batches running at once', async () => {
      const backend = new FakeBackend();
      backend.manual = true;
      const batcher = new DynamicBatcher(backend, X, 2, delay0(2, 3), new BatchStats());
      const all = [1, 2, 3, 4, 5].map((v) => batcher.submit(rowsOf(v), 1));
      expect(backend.batches).toEqual([2, 2]);
      await endTurn();
      expect(backend.batches).toEqual([2, 2, 1]);
      all.push(batcher.submit(rowsOf(6), 1), batcher.submit(rowsOf(7), 1));
      await endTurn();
      expect(backend.batches).toEqual([2, 2, 1]);
      backend.finishAll();
      await Promise.all(all.slice(0, 5));
      expect(backend.batches).toEqual([2, 2, 1, 2]);
      backend.finishAll();
      await Promise.all(all);
    });

    it('retries a failed merged batch request by request, so only the poisonous one fails', async () => {
      const backend = new FakeBackend();
      backend.manual = true;
      backend.failWhen = (features) => features.includes(666);
      const stats = new BatchStats();
      const batcher = new DynamicBatcher(backend, X, 2, delay0(8, 1), stats);
      const first = batcher.submit(rowsOf(1), 1);
      const good = batcher.submit(rowsOf(2), 1);
      const poison = batcher.submit(rowsOf(666), 1).catch((error: Error) => error);
      const alsoGood = batcher.submit(rowsOf(3), 1);
      for (let round = 0; round < 6; round++) {
        await endTurn();
        backend.finishAll();
      }
      expect(Array.from((await first).out.data)).toEqual([2, 3]);
      expect(Array.from((await good).out.data)).toEqual([4, 5]);
      expect(await poison).toEqual(new Error('poisoned batch'));
      expect(Array.from((await alsoGood).out.data)).toEqual([6, 7]);
      expect(backend.batches).toEqual([4, 1, 1, 1, 1]);
      expect(stats.failures).toBe(2);
    });
  });

  it('waits up to the queue delay for more requests when the backend has room', async () => {
    let now = 0;
    const backend = new FakeBackend();
    const batcher = new DynamicBatcher(
      backend,
      X,
      2,
      { maxBatchSize: 4, maxQueueDelayMs: 5, maxInFlight: 1 },
      new BatchStats(),
      () => now,
    );
    const a = batcher.submit(rowsOf(1), 1);
    now = 2;
    const b = batcher.submit(rowsOf(2), 1);
    expect(backend.batches).toEqual([]);
    // The end of the turn alone does not release a batch with a delay.
    jest.advanceTimersByTime(0);
    expect(backend.batches).toEqual([]);
    now = 5;
    jest.advanceTimersByTime(5);
    expect(backend.batches).toEqual([2]);
    await Promise.all([a, b]);
    // A full batch goes at once, without waiting.
    const full = [1, 2, 3, 4].map((v) => batcher.submit(rowsOf(v), 1));
    expect(backend.batches).toEqual([2, 4]);
    await Promise.all(full);
  });
});

describe('sliceRows', () => {
  it('cuts every batch-shaped output to the rows asked for', () => {
    const sliced = sliceRows({ p: { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [3, 2] } }, 3, 1, 2);
    expect(Array.from(sliced.p.data)).toEqual([3, 4, 5, 6]);
    expect(sliced.p.dims).toEqual([2, 2]);
  });
});
