import http from 'node:http';
import { listenOnLoopback } from './loopback';

/** A model the fake serves: one dense layer, `softmax(x·W + b)` or `x·W + b`, FP32 in and out. */
export interface FakeLinearModel {
  name: string;
  version: string;
  inputName: string;
  /** Features per row. */
  width: number;
  /** `width` rows of `bias.length` columns. */
  weights: number[][];
  bias: number[];
  softmax: boolean;
  outputName: string;
}

/** One request as the fake saw it. */
export interface FakeRequest {
  method: string;
  path: string;
}

type Fault =
  | { kind: 'fail'; status: number; error: string }
  | { kind: 'malformed' }
  | { kind: 'hang' }
  | { kind: 'reply'; status: number; body: unknown };

const BODY_LIMIT = 32 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A model server on 127.0.0.1 speaking KServe v2 REST (the Open Inference Protocol) the way Triton
 * and KServe do: health, server and model metadata, model readiness and JSON inference, with `{error}`
 * bodies, 404 for unknown models and 400 for malformed requests.
 *
 * Knobs change behaviour at run time. Faults (`failNext`, `malformedNext`, `hangNext`, `replyNext`)
 * queue in call order and are consumed by requests under `/v2/models/`, never by `/v2/health/*`.
 */
export class FakeOipServer {
  /** What `/v2/health/ready` (and model readiness) reports. */
  ready = true;
  /** What `/v2/health/live` reports. */
  live = true;
  /** Added before answering any `/v2/models/` request, in ms. */
  delayMs = 0;
  /** Sent as `Retry-After` with injected failures when set (seconds, or any header value). */
  retryAfter: number | string | undefined = undefined;

  /** Inference requests received, faulted ones included. */
  inferCalls = 0;
  /** Rows of each inference request that passed validation, in order. */
  rowsPerCall: number[] = [];
  /** The last inference request body as parsed JSON. */
  lastInferBody: unknown = undefined;
  /** Every request, in order. */
  requests: FakeRequest[] = [];

  private readonly models: FakeLinearModel[];
  private readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private faults: Fault[] = [];
  private address?: string;

  constructor(models: FakeLinearModel[]) {
    for (const m of models) {
      if (m.weights.length !== m.width || m.weights.some((row) => row.length !== m.bias.length))
        throw new RangeError(`fake model ${m.name}: weights must be ${m.width} × ${m.bias.length}`);
    }
    this.models = models;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on an ephemeral port of 127.0.0.1. */
  async start(): Promise<{ url: string }> {
    const base = await listenOnLoopback(this.server);
    this.address = base;
    return { url: this.address };
  }

  /** The base URL; throws before `start()`. */
  get url(): string {
    if (!this.address) throw new Error('the fake OIP server is not started');
    return this.address;
  }

  /** The next `n` model requests answer `status` with an OIP error body (and `retryAfter`, if set). */
  failNext(n: number, status = 503, error = 'injected failure'): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'fail', status, error });
  }

  /** The next `n` model requests answer 200 with a body that is not JSON. */
  malformedNext(n: number): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'malformed' });
  }

  /** The next `n` model requests are read and never answered (until `close()`). */
  hangNext(n: number): void {
    for (let i = 0; i < n; i++) this.faults.push({ kind: 'hang' });
  }

  /** The next model request answers `status` with `body` (JSON-encoded unless a string). */
  replyNext(body: unknown, status = 200): void {
    this.faults.push({ kind: 'reply', status, body });
  }

  /** Clears knobs, queued faults and counters. */
  reset(): void {
    this.ready = true;
    this.live = true;
    this.delayMs = 0;
    this.retryAfter = undefined;
    this.faults = [];
    this.inferCalls = 0;
    this.rowsPerCall = [];
    this.lastInferBody = undefined;
    this.requests = [];
  }

  /** Stops listening and destroys every open socket, hanging requests included, so it never waits. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    this.requests.push({ method, path });
    try {
      const body = await readBody(req);
      if (path === '/v2/health/live') return send(res, this.live ? 200 : 503, { live: this.live });
      if (path === '/v2/health/ready') return send(res, this.ready ? 200 : 503, { ready: this.ready });
      if (path === '/v2') return send(res, 200, { name: 'nerve-fake-oip', version: '2.0.0', extensions: [] });
      if (!path.startsWith('/v2/models/')) throw new HttpError(404, 'Not Found');
      await this.modelRequest(method, path, body, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      const status = error instanceof HttpError ? error.status : 500;
      send(res, status, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async modelRequest(
    method: string,
    path: string,
    body: Buffer,
    res: http.ServerResponse,
  ): Promise<void> {
    const route = parseModelPath(path);
    if (route.action === 'infer') this.inferCalls++;
    if (this.delayMs > 0) await this.wait(this.delayMs);
    if (res.destroyed) return;
    const fault = this.faults.shift();
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"model_name": "truncated", "outputs": [{"name": ');
      return;
    }
    if (fault?.kind === 'reply') {
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body));
      return;
    }
    if (fault?.kind === 'fail') {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
      if (this.retryAfter !== undefined) headers['retry-after'] = String(this.retryAfter);
      res.writeHead(fault.status, headers);
      res.end(JSON.stringify({ error: fault.error }));
      return;
    }

    const model = this.find(route.name, route.version);
    const expected = route.action === 'infer' ? 'POST' : 'GET';
    if (method !== expected) throw new HttpError(405, `${method} is not allowed here; use ${expected}`);
    if (route.action === 'ready') return send(res, this.ready ? 200 : 503, { ready: this.ready });
    if (route.action === 'metadata') {
      return send(res, 200, {
        name: model.name,
        versions: this.models.filter((m) => m.name === model.name).map((m) => m.version),
        platform: 'nerve_fake_linear',
        inputs: [{ name: model.inputName, datatype: 'FP32', shape: [-1, model.width] }],
        outputs: [{ name: model.outputName, datatype: 'FP32', shape: [-1, model.bias.length] }],
      });
    }
    send(res, 200, this.infer(model, body));
  }

  private find(name: string, version: string | undefined): FakeLinearModel {
    const named = this.models.filter((m) => m.name === name);
    if (named.length === 0) throw new HttpError(404, `Request for unknown model: '${name}' is not found`);
    if (version === undefined) {
      // Like Triton's default "latest" policy: the highest numeric version.
      return [...named].sort((a, b) => Number(b.version) - Number(a.version))[0];
    }
    const exact = named.find((m) => m.version === version);
    if (!exact)
      throw new HttpError(404, `Request for unknown model: '${name}' version ${version} is not found`);
    return exact;
  }

  private infer(model: FakeLinearModel, raw: Buffer): Record<string, unknown> {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new HttpError(400, `failed to parse the request JSON buffer: ${(error as Error).message}`);
    }
    this.lastInferBody = body;
    if (!isObject(body)) throw new HttpError(400, 'the request body must be a JSON object');
    const { inputs } = body;
    if (!Array.isArray(inputs) || inputs.length !== 1)
      throw new HttpError(
        400,
        `expected 1 inputs but got ${Array.isArray(inputs) ? inputs.length : 0} inputs for model '${model.name}'`,
      );
    const input: unknown = inputs[0];
    if (!isObject(input) || input.name !== model.inputName)
      throw new HttpError(
        400,
        `unexpected inference input '${isObject(input) ? String(input.name) : ''}' for model '${model.name}'`,
      );
    if (input.datatype !== 'FP32')
      throw new HttpError(
        400,
        `inference input '${model.inputName}' data-type is '${String(input.datatype)}', but model '${model.name}' expects 'FP32'`,
      );
    const shape = input.shape;
    if (
      !Array.isArray(shape) ||
      shape.length !== 2 ||
      !shape.every((d) => Number.isInteger(d)) ||
      shape[0] < 1 ||
      shape[1] !== model.width
    )
      throw new HttpError(
        400,
        `unexpected shape for input '${model.inputName}' for model '${model.name}'. Expected [-1,${model.width}], got ${JSON.stringify(shape)}`,
      );
    if (!Array.isArray(input.data))
      throw new HttpError(400, `input '${model.inputName}' has no data for model '${model.name}'`);
    const data = (input.data as unknown[]).flat(Infinity);
    if (!data.every((v) => typeof v === 'number'))
      throw new HttpError(
        400,
        `input '${model.inputName}' holds data that is not FP32 for model '${model.name}'`,
      );
    const rows = shape[0] as number;
    if (data.length !== rows * model.width)
      throw new HttpError(
        400,
        `unexpected number of elements for input '${model.inputName}': expected ${rows * model.width}, got ${data.length}`,
      );
    const requested = body.outputs;
    if (requested !== undefined) {
      const names = Array.isArray(requested) ? requested.map((o) => (isObject(o) ? o.name : undefined)) : [];
      const unknown = names.find((n) => n !== model.outputName);
      if (!Array.isArray(requested) || unknown !== undefined || names.length === 0)
        throw new HttpError(
          400,
          `unexpected inference output '${String(unknown)}' for model '${model.name}'`,
        );
    }
    this.rowsPerCall.push(rows);

    const k = model.bias.length;
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      // Inputs are cast to FP32 as a real server stores them; sums run in double, outputs are rounded to FP32.
      const x = (data as number[]).slice(r * model.width, (r + 1) * model.width).map(Math.fround);
      const z = model.bias.map((b, j) => x.reduce((sum, v, i) => sum + v * model.weights[i][j], b));
      const y = model.softmax ? softmax(z) : z;
      for (let j = 0; j < k; j++) out.push(Math.fround(y[j]));
    }
    return {
      model_name: model.name,
      model_version: model.version,
      ...(typeof body.id === 'string' ? { id: body.id } : {}),
      outputs: [{ name: model.outputName, datatype: 'FP32', shape: [rows, k], data: out }],
    };
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

type ModelRoute = { name: string; version?: string; action: 'metadata' | 'ready' | 'infer' };

/** `/v2/models/{name}[/versions/{v}][/ready|/infer]`. */
function parseModelPath(path: string): ModelRoute {
  const parts = path.slice('/v2/models/'.length).split('/').map(decodeURIComponent);
  const [name, ...rest] = parts;
  let version: string | undefined;
  if (rest[0] === 'versions' && rest.length >= 2) {
    version = rest[1];
    rest.splice(0, 2);
  }
  if (!name || rest.length > 1) throw new HttpError(404, 'Not Found');
  if (rest.length === 0) return { name, version, action: 'metadata' };
  if (rest[0] === 'ready' || rest[0] === 'infer') return { name, version, action: rest[0] };
  throw new HttpError(404, 'Not Found');
}

function softmax(z: number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        reject(new HttpError(413, `request body exceeds ${BODY_LIMIT} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
