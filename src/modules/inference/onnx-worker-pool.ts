import { Worker } from 'node:worker_threads';
import { InferenceFailedError } from '../../common/errors';
import { loadFailureReason, OnnxLoadError } from './onnx-signature';
import type { InputSlot, OutputTensor, ScoredOutputs, ScoringBackend } from './backend';

/**
 * The worker's code, as source: it must run unchanged from `dist/` and under ts-jest (whose VM breaks
 * onnxruntime's typed-array checks), so it is evaluated in the worker rather than loaded as a module.
 * One worker holds one onnxruntime session per loaded model; `run` answers with transferred buffers.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const sessions = new Map();

async function create(path, providers, threads) {
  let lastError;
  for (let i = 0; i < providers.length; i++) {
    const tried = providers.slice(i);
    try {
      const session = await ort.InferenceSession.create(path, {
        executionProviders: tried,
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      return { session, provider: tried[0], fallback: i > 0 ? String(lastError && lastError.message || lastError) : null };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function widen(tensor) {
  const data = tensor.data;
  if (data instanceof Float32Array || data instanceof Float64Array) return data;
  if (typeof data[0] === 'bigint' || data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
    return out;
  }
  if (ArrayBuffer.isView(data)) return Float64Array.from(data);
  throw new Error('output "' + tensor.name + '" is not numeric (' + tensor.type + ')');
}

parentPort.on('message', async (msg) => {
  try {
    if (msg.op === 'load') {
      const started = performance.now();
      const { session, provider, fallback } = await create(msg.path, msg.providers, msg.threads);
      sessions.set(msg.key, session);
      parentPort.postMessage({ id: msg.id, ok: true, provider, fallback, loadMs: performance.now() - started });
    } else if (msg.op === 'run') {
      const session = sessions.get(msg.key);
      if (!session) throw new Error('model ' + msg.key + ' is not loaded in this worker');
      const feeds = {};
      if (msg.inputs.length === 1) feeds[msg.inputs[0].name] = new ort.Tensor('float32', msg.data, msg.dims);
      else {
        // Each input's columns are copied out of the row here, off the event loop.
        const [rows, width] = msg.dims;
        for (const input of msg.inputs) {
          const part = new Float32Array(rows * input.width);
          for (let r = 0; r < rows; r++) {
            const at = r * width + input.offset;
            part.set(msg.data.subarray(at, at + input.width), r * input.width);
          }
          feeds[input.name] = new ort.Tensor('float32', part, [rows, input.width]);
        }
      }
      const started = performance.now();
      const results = await session.run(feeds);
      const runMs = performance.now() - started;
      const outputs = {};
      const transfer = [];
      for (const name of Object.keys(results)) {
        const tensor = results[name];
        if (tensor.type === 'string') continue;
        const data = widen(tensor);
        outputs[name] = { data, dims: Array.from(tensor.dims, Number) };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: msg.id, ok: true, outputs, runMs }, transfer);
    } else if (msg.op === 'unload') {
      const session = sessions.get(msg.key);
      sessions.delete(msg.key);
      if (session) await session.release();
      parentPort.postMessage({ id: msg.id, ok: true });
    }
  } catch (error) {
    parentPort.postMessage({ id: msg.id, ok: false, error: String((error && error.message) || error) });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  provider?: string;
  fallback?: string | null;
  loadMs?: number;
  runMs?: number;
  outputs?: Record<string, OutputTensor>;
}

interface Pending {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

export interface PoolOptions {
  /** Worker threads; each holds its own session of every model it has run. */
  workers: number;
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu']. */
  providers: string[];
  /** onnxruntime intra-op threads per session. */
  threads: number;
}

interface LoadInfo {
  provider: string;
  fallback: string | null;
  loadMs: number;
}

/** A worker thread and what it has loaded; replaced whole when it dies. */
class Slot {
  worker!: Worker;
  /** Requests sent and not yet answered: the pool sends work to the least busy slot. */
  busy = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  readonly loaded = new Map<string, Promise<LoadInfo>>();

  constructor(private readonly onExit: (slot: Slot, error: Error) => void) {
    this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ortPath: require.resolve('onnxruntime-node') },
    });
    worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      waiter.resolve(reply);
    });
    const fail = (error: Error): void => {
      if (this.worker !== worker) return;
      const stopped = new InferenceFailedError('the inference worker stopped while running the model; retry');
      for (const waiter of this.pending.values()) waiter.reject(stopped);
      this.pending.clear();
      this.loaded.clear();
      this.busy = 0;
      this.onExit(this, error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`inference worker exited with code ${code}`)));
    this.worker = worker;
  }

  /** Starts a fresh thread after the old one died; sessions reload lazily. */
  respawn(): void {
    this.spawn();
  }

  send(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const id = this.nextId++;
    this.busy++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    }).finally(() => {
      this.busy = Math.max(0, this.busy - 1);
    });
  }

  async terminate(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined as unknown as Worker;
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}

/**
 * onnxruntime sessions in worker threads, so a `run` never blocks the event loop that serves GraphQL.
 * Every worker loads a model the first time it is asked to run it; a worker that dies is replaced and
 * its requests fail with a clear error rather than hanging.
 */
export class OnnxWorkerPool {
  private readonly slots: Slot[];
  private closed = false;

  constructor(readonly options: PoolOptions) {
    this.slots = Array.from(
      { length: Math.max(1, options.workers) },
      () => new Slot((slot) => !this.closed && slot.respawn()),
    );
  }

  /** Requests in flight across the workers. */
  get busy(): number {
    return this.slots.reduce((sum, s) => sum + s.busy, 0);
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Loads the model in every worker (so the first requests find it warm) and reports the slowest load.
   * Throws OnnxLoadError with a caller-safe reason when the runtime rejects the file.
   */
  async load(key: string, path: string): Promise<LoadInfo> {
    const loads = await Promise.all(this.slots.map((slot) => this.ensure(slot, key, path)));
    return loads.reduce((a, b) => (b.loadMs > a.loadMs ? b : a));
  }

  /** A backend for one loaded model; runs go to the least busy worker. */
  backend(key: string, path: string, provider: string): ScoringBackend {
    return {
      provider,
      run: (inputs, features, rows, width) => this.run(key, path, inputs, features, rows, width),
      close: () => this.unload(key),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.terminate()));
  }

  private ensure(slot: Slot, key: string, path: string): Promise<LoadInfo> {
    let loading = slot.loaded.get(key);
    if (!loading) {
      loading = slot
        .send({ op: 'load', key, path, providers: this.options.providers, threads: this.options.threads })
        .then((reply) => {
          if (!reply.ok) throw new OnnxLoadError(loadFailureReason(reply.error ?? 'unknown error'));
          return {
            provider: reply.provider ?? 'cpu',
            fallback: reply.fallback ?? null,
            loadMs: reply.loadMs ?? 0,
          };
        });
      slot.loaded.set(key, loading);
      loading.catch(() => slot.loaded.delete(key));
    }
    return loading;
  }

  private async run(
    key: string,
    path: string,
    inputs: readonly InputSlot[],
    features: Float32Array,
    rows: number,
    width: number,
  ): Promise<ScoredOutputs> {
    if (this.closed) throw new InferenceFailedError('the inference runtime is shutting down');
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    await this.ensure(slot, key, path);
    // Copy unless the array owns its whole buffer: transferring detaches it, and callers may reuse views.
    const data =
      features.byteOffset === 0 && features.byteLength === features.buffer.byteLength
        ? features
        : features.slice();
    const reply = await slot.send({ op: 'run', key, inputs, data, dims: [rows, width] }, [
      data.buffer as ArrayBuffer,
    ]);
    if (!reply.ok) throw new InferenceFailedError(`the model failed: ${runFailureReason(reply.error ?? '')}`);
    return reply.outputs ?? {};
  }

  private async unload(key: string): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        if (!slot.loaded.has(key)) return;
        slot.loaded.delete(key);
        await slot.send({ op: 'unload', key }).catch(() => undefined);
      }),
    );
  }
}

/** onnxruntime's run errors name C++ files and node ids; keep the reason a caller can act on. */
export function runFailureReason(message: string): string {
  let reason = message.split('\n')[0].replace(/\/\S+/g, '').trim();
  const status =
    /(?:Non-zero status code returned while running \S+ node\. Name:'[^']*' Status Message: )(.*)$/.exec(
      reason,
    );
  if (status) reason = status[1];
  if (!reason) reason = 'the runtime reported an error';
  return reason.length > 300 ? `${reason.slice(0, 297)}...` : reason;
}
