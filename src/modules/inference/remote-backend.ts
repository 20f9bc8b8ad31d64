import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { BadInputError, InferenceFailedError, UnavailableError } from '../../common/errors';
import type { ModelSignature, TensorSpec } from './onnx-signature';
import type { InputSlot, OutputTensor, ScoredOutputs, ScoringBackend } from './backend';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker';

/** Tensor element types of the Open Inference Protocol. */
export type OipDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

const ELEMENT_TYPES: Record<OipDatatype, string> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const INTEGER_TYPES = new Set<OipDatatype>([
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
]);

const isDatatype = (value: unknown): value is OipDatatype =>
  typeof value === 'string' && Object.hasOwn(ELEMENT_TYPES, value);

/** The onnxruntime element type for an OIP datatype (`FP32` → `float32`, `BYTES` → `string`). */
export const oipElementType = (datatype: OipDatatype): string => ELEMENT_TYPES[datatype];

/** One tensor on the wire. `data` is flat, row-major; BOOL values arrive as 0/1. */
export interface OipTensor {
  name: string;
  shape: number[];
  datatype: OipDatatype;
  data: number[] | string[];
}

/** An inference request body (JSON, no binary extension). */
export interface OipInferRequest {
  id?: string;
  inputs: OipTensor[];
  outputs?: Array<{ name: string }>;
}

/** A validated inference response: every output's `data` flattened and matching its shape. */
export interface OipInferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: OipTensor[];
}

/** Where the model server is and how patiently to talk to it. */
export interface OipClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8000` (a path prefix, as behind an ingress, is kept). */
  url: string;
  /** Model name on the server. */
  model: string;
  /** Model version on the server; without it the server picks (usually the latest). */
  version?: string;
  /** Per-attempt deadline covering the response body too, in ms. Default 2000. */
  timeoutMs?: number;
  /** Retries after the first attempt, for network errors, timeouts, 429, 502, 503 and 504. Default 2. */
  retries?: number;
  /** Backoff base in ms: retry n waits random() × min(maxBackoffMs, backoffMs × 2^n). Default 50. */
  backoffMs?: number;
  /** Ceiling of one backoff wait, in ms. Default 1000. */
  maxBackoffMs?: number;
  /**
   * The longest `Retry-After` worth waiting for inside one call, in ms. A longer one ends the call at
   * once with that delay in `retryAfterSeconds`: waiting would hold the caller, and retrying sooner
   * would ignore the server. Default 1000.
   */
  maxRetryAfterMs?: number;
  /** A response body larger than this fails the call, in bytes. Default 64 MiB. */
  maxResponseBytes?: number;
  /** Extra request headers (an ingress's `Authorization`); never included in errors. */
  headers?: Record<string, string>;
  /** Circuit breaker settings (`failureThreshold`, `openMs`, `now`). */
  breaker?: Omit<CircuitBreakerOptions, 'isFailure' | 'label'>;
  /** Default: Node's global `fetch`. */
  fetch?: typeof fetch;
  /** In [0, 1), for backoff jitter. Default `Math.random`. */
  random?: () => number;
  /** Waits between attempts. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** The server answered 404: the model (or version) is not loaded there. Not a sign of ill health. */
class ModelNotServedError extends UnavailableError {}

/** A failure worth another attempt; becomes an UnavailableError when attempts run out. */
class TransientFailure extends Error {
  constructor(
    readonly reason: string,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
  }
}

/** The response broke the protocol; a server bug, not the caller's. */
class InvalidResponse extends Error {}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * Talks KServe v2 REST (the Open Inference Protocol of Triton, KServe, MLServer and Seldon) to one
 * model on one server. Only this class knows the wire. Each call is retried on transient failures
 * with exponential backoff and full jitter, and the whole retried call runs inside a circuit breaker
 * so a dead server fails callers fast. Errors name the server, never the request's data or headers.
 */
export class OipClient {
  /** The base URL as shown in errors and `provider`: no credentials, no query, no trailing slash. */
  readonly url: string;
  readonly model: string;
  readonly version?: string;
  readonly breaker: CircuitBreaker;

  private readonly base: string;
  private readonly modelPath: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxResponseBytes: number;
  private readonly headers: Record<string, string>;
  private readonly fetch: typeof fetch;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private closed = false;

  constructor(options: OipClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new RangeError('model server url is not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new RangeError('model server url must be http or https');
    // fetch refuses URLs with credentials, and errors quote the URL: credentials belong in `headers`.
    if (parsed.username || parsed.password)
      throw new RangeError('model server url must not carry credentials; pass them in headers');
    // The client builds every path itself; a query or fragment would be silently dropped.
    if (parsed.search || parsed.hash)
      throw new RangeError('model server url must not carry a query or fragment');
    if (!options.model) throw new RangeError('model name is required');
    this.base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
    this.url = this.base;
    this.model = options.model;
    this.version = options.version;
    this.modelPath =
      `/v2/models/${encodeURIComponent(options.model)}` +
      (options.version === undefined ? '' : `/versions/${encodeURIComponent(options.version)}`);
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.retries = options.retries ?? 2;
    this.backoffMs = options.backoffMs ?? 50;
    this.maxBackoffMs = options.maxBackoffMs ?? 1000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 1000;
    this.maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
    this.headers = { ...options.headers };
    this.fetch = options.fetch ?? fetch;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    if (!Number.isInteger(this.retries) || this.retries < 0)
      throw new RangeError('retries must be a non-negative integer');
    if (!(this.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    this.breaker = new CircuitBreaker({
      ...options.breaker,
      label: `model server ${this.url}`,
      // The server answered and blamed the request, or does not host the model: it is healthy.
      isFailure: (error) => !(error instanceof BadInputError) && !(error instanceof ModelNotServedError),
    });
  }

  /** Whether the server says it is ready (`GET /v2/health/ready` answers 200). Never throws for the wire. */
  async ready(): Promise<boolean> {
    this.assertOpen();
    return this.probe('/v2/health/ready');
  }

  /** Whether the server says this model (version) is ready to infer. Never throws for the wire. */
  async modelReady(): Promise<boolean> {
    this.assertOpen();
    return this.probe(`${this.modelPath}/ready`);
  }

  /**
   * The model's inputs and outputs from `GET /v2/models/{name}[/versions/{v}]`, with OIP datatypes as
   * onnxruntime element types and `-1` dimensions as `null`. A server that lists no inputs or
   * outputs (MLServer without declared metadata) yields empty lists.
   */
  async metadata(): Promise<ModelSignature> {
    this.assertOpen();
    return this.breaker.call(() =>
      this.withRetries(async () => parseMetadata(await this.request('GET', this.modelPath))),
    );
  }

  /** Runs one inference request (`POST .../infer`) and returns the validated response. */
  async infer(request: OipInferRequest): Promise<OipInferResponse> {
    this.assertOpen();
    const body = JSON.stringify(request);
    return this.breaker.call(() =>
      this.withRetries(async () =>
        parseInferResponse(await this.request('POST', `${this.modelPath}/infer`, body), request.id),
      ),
    );
  }

  /** Marks the client closed: later calls reject. Calls in flight finish. */
  close(): void {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError(`model server ${this.url}: the client is closed`);
  }

  private async probe(path: string): Promise<boolean> {
    try {
      const res = await this.fetch(this.base + path, {
        headers: this.headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.body?.cancel();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Runs `attempt` until it succeeds, fails for good, or the retries are spent. */
  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof InvalidResponse)
          throw new UnavailableError(`model server ${this.url} sent an invalid response: ${error.message}`);
        if (!(error instanceof TransientFailure)) throw error;
        const attempts = `(${n + 1} attempt${n === 0 ? '' : 's'})`;
        const asked = error.retryAfterMs;
        if (asked !== undefined && asked > this.maxRetryAfterMs) {
          const seconds = Math.ceil(asked / 1000);
          throw new UnavailableError(
            `model server ${this.url} ${error.reason} ${attempts}; it asks to retry in ${seconds}s`,
            seconds,
          );
        }
        if (n >= this.retries) {
          const seconds = asked === undefined ? undefined : Math.max(1, Math.ceil(asked / 1000));
          throw new UnavailableError(`model server ${this.url} ${error.reason} ${attempts}`, seconds);
        }
        await this.sleep(
          asked ?? Math.floor(this.random() * Math.min(this.maxBackoffMs, this.backoffMs * 2 ** n)),
        );
      }
    }
  }

  /** One attempt: the parsed JSON of a 2xx answer, or the error its status calls for. */
  private async request(method: 'GET' | 'POST', path: string, body?: string): Promise<unknown> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(this.base + path, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...this.headers,
        },
        body,
        signal,
      });
      // An oversized error body must not hide the status, which is what decides the outcome.
      text = res.ok
        ? await readText(res, this.maxResponseBytes)
        : await readText(res, ERROR_BODY_LIMIT).catch((error: unknown) => {
            if (error instanceof InvalidResponse) return '';
            throw error;
          });
    } catch (error) {
      throw this.wireFailure(error, signal);
    }
    if (res.ok) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new InvalidResponse('body is not JSON');
      }
    }
    const status = `${res.status} ${STATUS_CODES[res.status] ?? ''}`.trim();
    const message = serverMessage(text);
    if (RETRYABLE_STATUS.has(res.status))
      throw new TransientFailure(`answered ${status}`, retryAfterMs(res.headers.get('retry-after')));
    if (res.status === 400 || res.status === 422)
      throw new BadInputError('inputs', message ?? `rejected by the model server (${status})`);
    const what = `model "${this.model}"${this.version === undefined ? '' : ` version ${this.version}`}`;
    if (res.status === 404)
      throw new ModelNotServedError(
        `model server ${this.url} does not serve ${what}${message ? `: ${message}` : ''}`,
      );
    if (res.status === 500)
      throw new InferenceFailedError(
        `model server ${this.url} failed on ${what}${message ? `: ${message}` : ` (${status})`}`,
      );
    throw new UnavailableError(`model server ${this.url} answered ${status}${message ? `: ${message}` : ''}`);
  }

  private wireFailure(error: unknown, signal: AbortSignal): Error {
    if (error instanceof InvalidResponse) return error;
    if (signal.aborted) return new TransientFailure(`did not answer within ${this.timeoutMs} ms`);
    // undici reports "fetch failed" and puts the useful part (ECONNREFUSED, ECONNRESET) in the cause.
    const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
    const code = typeof cause?.code === 'string' ? cause.code : undefined;
    return new TransientFailure(`could not be reached${code ? ` (${code})` : ''}`);
  }
}

/** Options of {@link RemoteBackend}: those of {@link OipClient}. */
export type RemoteBackendOptions = OipClientOptions;

/**
 * A {@link ScoringBackend} on a remote model server: sends the feature matrix as one FP32 input and
 * returns the server's outputs as typed arrays (FP32 as Float32Array, other numeric types widened to
 * Float64Array). BYTES outputs are refused: Nerve scores numbers.
 */
export class RemoteBackend implements ScoringBackend {
  readonly provider: string;
  readonly client: OipClient;

  constructor(options: RemoteBackendOptions) {
    this.client = new OipClient(options);
    this.provider = `remote:${this.client.url}`;
  }

  /** See {@link OipClient.ready}. */
  ready(): Promise<boolean> {
    return this.client.ready();
  }

  /** See {@link OipClient.modelReady}. */
  modelReady(): Promise<boolean> {
    return this.client.modelReady();
  }

  /** See {@link OipClient.metadata}. */
  metadata(): Promise<ModelSignature> {
    return this.client.metadata();
  }

  async run(
    inputs: readonly InputSlot[],
    features: Float32Array,
    rows: number,
    width: number,
  ): Promise<ScoredOutputs> {
    if (!Number.isInteger(rows) || !Number.isInteger(width) || rows < 1 || width < 1)
      throw new RangeError(`rows and width must be positive integers (got ${rows} × ${width})`);
    if (features.length !== rows * width)
      throw new RangeError(`features hold ${features.length} values, not ${rows} × ${width}`);
    // JSON has no NaN or Infinity: they would travel as null and come back as a vaguer 400.
    for (let i = 0; i < features.length; i++) {
      if (!Number.isFinite(features[i]))
        throw new BadInputError(
          'inputs',
          `feature ${i % width} of row ${Math.floor(i / width)} is not finite`,
        );
    }
    const id = randomUUID();
    const response = await this.client.infer({
      id,
      inputs: inputs.map((input) => ({
        name: input.name,
        shape: [rows, input.width],
        datatype: 'FP32' as const,
        data: input.width === width ? Array.from(features) : columnsOf(features, rows, width, input),
      })),
    });
    const scored: ScoredOutputs = {};
    for (const output of response.outputs) scored[output.name] = this.toTensor(output);
    return scored;
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private toTensor(output: OipTensor): OutputTensor {
    if (output.datatype === 'BYTES')
      throw new InferenceFailedError(
        `model server ${this.client.url} returned output "${output.name}" as BYTES; only numeric outputs can be scored`,
      );
    const data = output.data as number[];
    return {
      data: output.datatype === 'FP32' ? Float32Array.from(data) : Float64Array.from(data),
      dims: output.shape,
    };
  }
}

/** Reads a body up to `limit` bytes; more is a protocol failure rather than unbounded memory. */
async function readText(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > limit) {
    await res.body?.cancel();
    throw new InvalidResponse(`body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new InvalidResponse(`body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Seconds form of `Retry-After`, in ms; the date form is rare from model servers and is ignored. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+\s*$/.test(header)) return undefined;
  return Number(header) * 1000;
}

/** The `error` of an OIP error body, made safe to quote: one line, bounded. */
function serverMessage(text: string): string | undefined {
  let message: unknown;
  try {
    message = (JSON.parse(text) as { error?: unknown } | null)?.error;
  } catch {
    return undefined;
  }
  if (typeof message !== 'string' || !message.trim()) return undefined;
  // Control characters (newlines, ANSI escapes) from a remote would forge lines in our logs.
  const line = Array.from(message, (c) => (c.charCodeAt(0) < 0x20 || c === '\x7f' ? ' ' : c))
    .join('')
    .replace(/ {2,}/g, ' ')
    .trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseMetadata(body: unknown): ModelSignature {
  if (!isObject(body)) throw new InvalidResponse('model metadata is not an object');
  if (typeof body.name !== 'string') throw new InvalidResponse('model metadata has no name');
  return {
    inputs: parseTensorMetadata(body.inputs, 'inputs'),
    outputs: parseTensorMetadata(body.outputs, 'outputs'),
  };
}

function parseTensorMetadata(value: unknown, where: string): TensorSpec[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidResponse(`${where} is not a list`);
  return value.map((tensor: unknown, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(tensor) || typeof tensor.name !== 'string') throw new InvalidResponse(`${at} has no name`);
    if (!isDatatype(tensor.datatype)) throw new InvalidResponse(`${at} has an unknown datatype`);
    if (!Array.isArray(tensor.shape) || !tensor.shape.every((d) => Number.isInteger(d) && d >= -1))
      throw new InvalidResponse(`${at} has an invalid shape`);
    return {
      name: tensor.name,
      type: oipElementType(tensor.datatype),
      shape: tensor.shape.map((d: number) => (d === -1 ? null : d)),
    };
  });
}

function parseInferResponse(body: unknown, requestId: string | undefined): OipInferResponse {
  if (!isObject(body)) throw new InvalidResponse('response is not an object');
  // A proxy that crossed two responses would otherwise hand one caller another's scores.
  if (requestId !== undefined && typeof body.id === 'string' && body.id !== '' && body.id !== requestId)
    throw new InvalidResponse('response id does not match the request id');
  if (!Array.isArray(body.outputs) || body.outputs.length === 0)
    throw new InvalidResponse('response has no outputs');
  const names = new Set<string>();
  const outputs = body.outputs.map((output: unknown, i) => {
    const tensor = parseTensor(output, `outputs[${i}]`);
    if (names.has(tensor.name)) throw new InvalidResponse(`output "${tensor.name}" appears twice`);
    names.add(tensor.name);
    return tensor;
  });
  return {
    model_name: typeof body.model_name === 'string' ? body.model_name : '',
    ...(typeof body.model_version === 'string' ? { model_version: body.model_version } : {}),
    ...(typeof body.id === 'string' ? { id: body.id } : {}),
    outputs,
  };
}

function parseTensor(value: unknown, at: string): OipTensor {
  if (!isObject(value) || typeof value.name !== 'string' || !value.name)
    throw new InvalidResponse(`${at} has no name`);
  const named = `output "${value.name}"`;
  const { shape, datatype } = value;
  if (!isDatatype(datatype)) throw new InvalidResponse(`${named} has an unknown datatype`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new InvalidResponse(`${named} has an invalid shape`);
  if (!Array.isArray(value.data)) throw new InvalidResponse(`${named} has no data`);
  const data = flatten(value.data, shape.length);
  if (data === undefined) throw new InvalidResponse(`${named} nests its data deeper than its shape`);
  const expected = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== expected)
    throw new InvalidResponse(
      `${named} has ${data.length} values but its shape [${shape.join(', ')}] needs ${expected}`,
    );
  return { name: value.name, shape: shape as number[], datatype, data: elements(data, datatype, named) };
}

/** Row-major flattening of OIP's nested form; undefined when nested deeper than `rank` levels. */
function flatten(data: unknown[], rank: number): unknown[] | undefined {
  if (!data.some(Array.isArray)) return data;
  if (rank <= 1) return undefined;
  const flat: unknown[] = [];
  for (const item of data) {
    if (!Array.isArray(item)) {
      flat.push(item);
      continue;
    }
    const inner = flatten(item, rank - 1);
    if (inner === undefined) return undefined;
    for (const v of inner) flat.push(v);
  }
  return flat;
}

function elements(data: unknown[], datatype: OipDatatype, named: string): number[] | string[] {
  if (datatype === 'BYTES') {
    if (!data.every((v) => typeof v === 'string')) throw new InvalidResponse(`${named} has non-string BYTES`);
    return data as string[];
  }
  if (datatype === 'BOOL') {
    if (!data.every((v) => typeof v === 'boolean'))
      throw new InvalidResponse(`${named} has non-boolean data`);
    return data.map((v) => (v ? 1 : 0));
  }
  const integral = INTEGER_TYPES.has(datatype);
  for (const v of data) {
    if (typeof v !== 'number' || (integral && !Number.isInteger(v)))
      throw new InvalidResponse(`${named} has non-numeric ${datatype} data`);
  }
  return data as number[];
}

/** One input's columns of row-major `features`, as the flat list an OIP tensor carries. */
function columnsOf(features: Float32Array, rows: number, width: number, input: InputSlot): number[] {
  const out = new Array<number>(rows * input.width);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < input.width; c++) out[r * input.width + c] = features[r * width + input.offset + c];
  }
  return out;
}
