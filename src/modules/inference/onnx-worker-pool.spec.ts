import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { OnnxLoadError } from './onnx-signature';
import { OnnxWorkerPool, runFailureReason } from './onnx-worker-pool';
import { linearClassifierOnnx } from '../../../test/factories/onnx';

/** The test model's only input, two columns wide. */
const FEATURES = [{ name: 'features', offset: 0, width: 2 }];

describe('OnnxWorkerPool', () => {
  let dir: string;
  let file: string;
  let pool: OnnxWorkerPool;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-pool-'));
    file = path.join(dir, 'model.onnx');
    fs.writeFileSync(
      file,
      linearClassifierOnnx({
        features: 2,
        classes: 2,
        weights: [
          [1, -1],
          [0, 0],
        ],
        bias: [0, 0],
      }),
    );
    fs.writeFileSync(path.join(dir, 'garbage.onnx'), 'not a model');
    pool = new OnnxWorkerPool({ workers: 2, providers: ['cpu'], threads: 1 });
  });
  afterAll(async () => {
    await pool.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads in every worker and scores rows there', async () => {
    const info = await pool.load('m', file);
    expect(info.provider).toBe('cpu');
    const backend = pool.backend('m', file, info.provider);
    const out = await backend.run(FEATURES, Float32Array.from([0, 0, 2, 0]), 2, 2);
    expect(out.probabilities.dims).toEqual([2, 2]);
    expect(out.probabilities.data[0]).toBeCloseTo(0.5, 6);
    expect(out.probabilities.data[2]).toBeCloseTo(1 / (1 + Math.exp(-4)), 6);
  });

  it('says why a file cannot be loaded, without paths', async () => {
    const error = await pool.load('bad', path.join(dir, 'garbage.onnx')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnnxLoadError);
    expect((error as OnnxLoadError).reason).not.toContain(dir);
  });

  it('replaces a worker that dies, failing its requests rather than hanging them', async () => {
    await pool.load('m', file);
    const backend = pool.backend('m', file, 'cpu');
    const slots = (pool as unknown as { slots: Array<{ worker: Worker }> }).slots;
    const dying = slots[0].worker;
    const inFlight = backend.run(FEATURES, Float32Array.from([1, 1]), 1, 2).catch((e: Error) => e);
    await dying.terminate();
    const outcome = await inFlight;
    // The request either finished first or failed with the exit; it never hangs.
    expect(outcome instanceof Error ? outcome.message : 'answered').toMatch(/worker stopped|answered/);
    // Every later request is answered, the model reloaded lazily in the new worker.
    const later = await Promise.all(
      Array.from({ length: 8 }, () => backend.run(FEATURES, Float32Array.from([1, 1]), 1, 2)),
    );
    for (const out of later) expect(out.probabilities.data[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    expect(slots[0].worker).not.toBe(dying);
  });

  it('keeps the reason from onnxruntime run errors, not its source paths', () => {
    expect(
      runFailureReason(
        "Non-zero status code returned while running MatMul node. Name:'mm' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/math/matmul_helper.h:61 onnxruntime::MatMulComputeHelper::Compute left operand cannot broadcast on dim 1",
      ),
    ).not.toMatch(/onnxruntime_src/);
  });
});
