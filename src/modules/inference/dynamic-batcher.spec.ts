import type { ScoredOutputs, ScoringBackend } from './backend';
import { BatchStats, DynamicBatcher, sliceRows } from './dynamic-batcher';

/** A backend that doubles every feature and remembers the batch sizes it saw; runs finish on demand. */
class FakeBackend implements ScoringBackend {
  readonly provider = 'cpu';
  readonly batches: number[] = [];
  private pending: Array<() => void> = [];
  failWhen: (features: Float32Array) => boolean = () => false;
  manual = false;

  run(_input: string, features: Float32Array, rows: number, width: number): Promise<ScoredOutputs> {
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

const rowsOf = (...values: number[]): Float32Array => Float32Array.from(values.flatMap((v) => [v, v + 0.5]));
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DynamicBatcher', () => {
  it('merges requests queued while the backend is busy and hands each its own rows', async () => {
    const backend = new FakeBackend();
    backend.manual = true;
    const stats = new BatchStats();
    const batcher = new DynamicBatcher(
      backend,
      'x',
      2,
      { maxBatchSize: 8, maxQueueDelayMs: 0, maxInFlight: 1 },
      stats,
    );
    const first = batcher.submit(rowsOf(1), 1);
    const queued = [
      batcher.submit(rowsOf(2, 3), 2),
      batcher.submit(rowsOf(4), 1),
      batcher.submit(rowsOf(5), 1),
    ];
    expect(backend.batches).toEqual([1]);
    expect(batcher.depth).toBe(4);
    backend.finishAll();
    expect(Array.from((await first).out.data)).toEqual([2, 3]);
    await flush();
    expect(backend.batches).toEqual([1, 4]);
    backend.finishAll();
    const [a, b, c] = await Promise.all(queued);
    expect(Array.from(a.out.data)).toEqual([4, 5, 6, 7]);
    expect(a.out.dims).toEqual([2, 2]);
    expect(Array.from(b.out.data)).toEqual([8, 9]);
    expect(Array.from(c.out.data)).toEqual([10, 11]);
    // An output without the batch dimension goes to every request whole.
    expect(Array.from(c.scalar.data)).toEqual([7]);
    expect(stats.batches).toBe(2);
    expect(stats.rows).toBe(5);
  });

  it('never exceeds the max batch size, except a single larger request which runs alone', async () => {
    const backend = new FakeBackend();
    backend.manual = true;
    const batcher = new DynamicBatcher(
      backend,
      'x',
      2,
      { maxBatchSize: 3, maxQueueDelayMs: 0, maxInFlight: 1 },
      new BatchStats(),
    );
    const all = [batcher.submit(rowsOf(0), 1)];
    for (let i = 1; i <= 7; i++) all.push(batcher.submit(rowsOf(i), 1));
    all.push(batcher.submit(rowsOf(8, 9, 10, 11, 12), 5));
    for (let round = 0; round < 6; round++) {
      backend.finishAll();
      await flush();
    }
    await Promise.all(all);
    expect(backend.batches).toEqual([1, 3, 3, 1, 5]);
  });

  it('waits up to the queue delay for more requests when the backend has room', async () => {
    jest.useFakeTimers();
    try {
      let now = 0;
      const backend = new FakeBackend();
      const batcher = new DynamicBatcher(
        backend,
        'x',
        2,
        { maxBatchSize: 4, maxQueueDelayMs: 5, maxInFlight: 1 },
        new BatchStats(),
        () => now,
      );
      const a = batcher.submit(rowsOf(1), 1);
      now = 2;
      const b = batcher.submit(rowsOf(2), 1);
      expect(backend.batches).toEqual([]);
      now = 5;
      jest.advanceTimersByTime(5);
      expect(backend.batches).toEqual([2]);
      await Promise.all([a, b]);
      // A full batch goes at once, without waiting.
      const full = [1, 2, 3, 4].map((v) => batcher.submit(rowsOf(v), 1));
      expect(backend.batches).toEqual([2, 4]);
      await Promise.all(full);
    } finally {
      jest.useRealTimers();
    }
  });

  it('retries a failed merged batch request by request, so only the poisonous one fails', async () => {
    const backend = new FakeBackend();
    backend.manual = true;
    backend.failWhen = (features) => features.includes(666);
    const stats = new BatchStats();
    const batcher = new DynamicBatcher(
      backend,
      'x',
      2,
      { maxBatchSize: 8, maxQueueDelayMs: 0, maxInFlight: 1 },
      stats,
    );
    const first = batcher.submit(rowsOf(1), 1);
    const good = batcher.submit(rowsOf(2), 1);
    const poison = batcher.submit(rowsOf(666), 1).catch((error: Error) => error);
    const alsoGood = batcher.submit(rowsOf(3), 1);
    for (let round = 0; round < 6; round++) {
      backend.finishAll();
      await flush();
    }
    await expect(first).resolves.toBeDefined();
    expect(Array.from((await good).out.data)).toEqual([4, 5]);
    expect(await poison).toEqual(new Error('poisoned batch'));
    expect(Array.from((await alsoGood).out.data)).toEqual([6, 7]);
    expect(stats.failures).toBe(2);
  });

  it('keeps up to maxInFlight batches running at once', async () => {
    const backend = new FakeBackend();
    backend.manual = true;
    const batcher = new DynamicBatcher(
      backend,
      'x',
      2,
      { maxBatchSize: 2, maxQueueDelayMs: 0, maxInFlight: 3 },
      new BatchStats(),
    );
    const all = [1, 2, 3, 4, 5].map((v) => batcher.submit(rowsOf(v), 1));
    expect(backend.batches).toEqual([1, 1, 1]);
    backend.finishAll();
    await Promise.all(all.slice(0, 3));
    await flush();
    expect(backend.batches).toEqual([1, 1, 1, 2]);
    backend.finishAll();
    await Promise.all(all);
  });
});

describe('sliceRows', () => {
  it('cuts every batch-shaped output to the rows asked for', () => {
    const sliced = sliceRows({ p: { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [3, 2] } }, 3, 1, 2);
    expect(Array.from(sliced.p.data)).toEqual([3, 4, 5, 6]);
    expect(sliced.p.dims).toEqual([2, 2]);
  });
});
