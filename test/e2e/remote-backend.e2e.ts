import net from 'node:net';
import { BadInputError, InferenceFailedError, UnavailableError } from '../../src/common/errors';
import { CircuitState } from '../../src/modules/inference/circuit-breaker';
import {
  oipElementType,
  RemoteBackend,
  type RemoteBackendOptions,
} from '../../src/modules/inference/remote-backend';
import { FakeOipServer, type FakeLinearModel } from '../fakes/oip-server';

const IRIS: FakeLinearModel = {
  name: 'iris',
  version: '1',
  inputName: 'features',
  width: 4,
  weights: [
    [0.5, -0.2, 0.1],
    [-0.3, 0.8, 0.05],
    [1.2, -0.7, 0.4],
    [0.0, 0.3, -0.9],
  ],
  bias: [0.1, -0.05, 0.2],
  softmax: true,
  outputName: 'probabilities',
};
const IRIS_V2: FakeLinearModel = { ...IRIS, version: '2', bias: [5, 0, 0] };
const PRICE: FakeLinearModel = {
  name: 'price',
  version: '1',
  inputName: 'x',
  width: 2,
  weights: [[2], [-1]],
  bias: [0.5],
  softmax: false,
  outputName: 'y',
};

/** Three rows of four features; distinctive digits, so a leak into an error message would show. */
const ROWS = [
  [5.123457, 3.5, 1.4, 0.2],
  [6.7, 3.1, 4.4, 1.4],
  [7.7, 2.6, 6.9, 2.3],
];
const FEATURES = Float32Array.from(ROWS.flat());
const FEATURES_INPUT = [{ name: 'features', offset: 0, width: 4 }];

/** softmax(x·W + b) for one row, written out longhand. */
function expectedProbabilities(model: FakeLinearModel, row: number[]): number[] {
  const logits: number[] = [];
  for (let j = 0; j < model.bias.length; j++) {
    let z = model.bias[j];
    for (let i = 0; i < row.length; i++) z += row[i] * model.weights[i][j];
    logits.push(z);
  }
  const top = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('RemoteBackend against a fake Open Inference Protocol server', () => {
  const fake = new FakeOipServer([IRIS, IRIS_V2, PRICE]);
  let url: string;
  let clock: { t: number };
  let sleeps: number[];

  /** A backend on injected time: sleeps are recorded, not waited; jitter is always half the cap. */
  const backend = (options: Partial<RemoteBackendOptions> = {}): RemoteBackend =>
    new RemoteBackend({
      url,
      model: 'iris',
      version: '1',
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...options,
      breaker: { now: () => clock.t, ...options.breaker },
    });

  beforeAll(async () => {
    ({ url } = await fake.start());
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    clock = { t: 1_700_000_000_000 };
    sleeps = [];
  });

  describe('health and metadata', () => {
    it('reports readiness from /v2/health/ready, and false when unreachable', async () => {
      const b = backend();
      await expect(b.ready()).resolves.toBe(true);
      fake.ready = false;
      await expect(b.ready()).resolves.toBe(false);
      const gone = backend({ url: `http://127.0.0.1:${await freePort()}` });
      await expect(gone.ready()).resolves.toBe(false);
    });

    it('reports model readiness, false for a model the server does not have', async () => {
      await expect(backend().modelReady()).resolves.toBe(true);
      await expect(backend({ model: 'nope' }).modelReady()).resolves.toBe(false);
    });

    it('maps model metadata to a signature: float32, -1 as null', async () => {
      await expect(backend({ version: undefined }).metadata()).resolves.toEqual({
        inputs: [{ name: 'features', type: 'float32', shape: [null, 4] }],
        outputs: [{ name: 'probabilities', type: 'float32', shape: [null, 3] }],
      });
      expect(fake.requests.at(-1)).toEqual({ method: 'GET', path: '/v2/models/iris' });

      await backend({ version: '2' }).metadata();
      expect(fake.requests.at(-1)).toEqual({ method: 'GET', path: '/v2/models/iris/versions/2' });
    });

    it('maps every OIP datatype to its onnxruntime element type', async () => {
      fake.replyNext({
        name: 'mixed',
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: [
          { name: 'ids', datatype: 'INT64', shape: [-1, 8] },
          { name: 'text', datatype: 'BYTES', shape: [-1] },
          { name: 'mask', datatype: 'BOOL', shape: [-1, 8] },
        ],
        outputs: [
          { name: 'half', datatype: 'FP16', shape: [-1, 2] },
          { name: 'double', datatype: 'FP64', shape: [1] },
          { name: 'count', datatype: 'UINT32', shape: [] },
        ],
      });
      await expect(backend().metadata()).resolves.toEqual({
        inputs: [
          { name: 'ids', type: 'int64', shape: [null, 8] },
          { name: 'text', type: 'string', shape: [null] },
          { name: 'mask', type: 'bool', shape: [null, 8] },
        ],
        outputs: [
          { name: 'half', type: 'float16', shape: [null, 2] },
          { name: 'double', type: 'float64', shape: [1] },
          { name: 'count', type: 'uint32', shape: [] },
        ],
      });
      const table = ['FP32', 'FP64', 'FP16', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT64'] as const;
      expect(table.map(oipElementType)).toEqual([
        'float32',
        'float64',
        'float16',
        'int8',
        'int16',
        'int32',
        'int64',
        'uint8',
        'uint64',
      ]);
    });

    it('treats missing tensor lists as empty and refuses unknown datatypes', async () => {
      fake.replyNext({ name: 'bare', platform: 'mlserver_sklearn' });
      await expect(backend().metadata()).resolves.toEqual({ inputs: [], outputs: [] });
      fake.replyNext({
        name: 'odd',
        platform: 'x',
        inputs: [{ name: 'a', datatype: 'COMPLEX64', shape: [1] }],
      });
      await expect(backend().metadata()).rejects.toThrow(
        `model server ${url} sent an invalid response: inputs[0] has an unknown datatype`,
      );
    });
  });

  describe('inference', () => {
    it('scores 3 rows with the softmax of the linear layer, as FP32', async () => {
      const b = backend();
      expect(b.provider).toBe(`remote:${url}`);
      const out = await b.run(FEATURES_INPUT, FEATURES, 3, 4);

      expect(Object.keys(out)).toEqual(['probabilities']);
      expect(out.probabilities.dims).toEqual([3, 3]);
      expect(out.probabilities.data).toBeInstanceOf(Float32Array);
      const got = Array.from(out.probabilities.data);
      const want = ROWS.flatMap((row) => expectedProbabilities(IRIS, row));
      want.forEach((p, i) => expect(got[i]).toBeCloseTo(p, 5));
      expect(fake.inferCalls).toBe(1);
      expect(fake.rowsPerCall).toEqual([3]);
    });

    it('sends a protocol-shaped request to the versioned infer path', async () => {
      await backend().run(FEATURES_INPUT, FEATURES, 3, 4);
      expect(fake.requests.at(-1)).toEqual({ method: 'POST', path: '/v2/models/iris/versions/1/infer' });
      const body = fake.lastInferBody as { id: string; inputs: Array<Record<string, unknown>> };
      expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.inputs).toEqual([
        { name: 'features', shape: [3, 4], datatype: 'FP32', data: Array.from(FEATURES) },
      ]);

      const unversioned = backend({ version: undefined });
      await unversioned.run(FEATURES_INPUT, FEATURES, 3, 4);
      expect(fake.requests.at(-1)?.path).toBe('/v2/models/iris/infer');
    });

    it('sends each model input its own columns of the rows, as one tensor per input', async () => {
      // Two inputs of 3 and 1 columns; the fake serves one-input models and refuses, after recording the body.
      const inputs = [
        { name: 'num', offset: 0, width: 3 },
        { name: 'cat', offset: 3, width: 1 },
      ];
      await backend()
        .run(inputs, FEATURES.subarray(0, 8), 2, 4)
        .catch(() => undefined);
      const body = fake.lastInferBody as { inputs: Array<Record<string, unknown>> };
      expect(body.inputs).toEqual([
        {
          name: 'num',
          shape: [2, 3],
          datatype: 'FP32',
          data: [...ROWS[0].slice(0, 3), ...ROWS[1].slice(0, 3)].map(Math.fround),
        },
        { name: 'cat', shape: [2, 1], datatype: 'FP32', data: [ROWS[0][3], ROWS[1][3]].map(Math.fround) },
      ]);
    });

    it('reaches the version asked for', async () => {
      const out = await backend({ version: '2' }).run(FEATURES_INPUT, FEATURES.subarray(0, 4), 1, 4);
      const want = expectedProbabilities(IRIS_V2, ROWS[0]);
      Array.from(out.probabilities.data).forEach((p, i) => expect(p).toBeCloseTo(want[i], 5));
    });

    it('scores a regression without softmax', async () => {
      const out = await backend({ model: 'price', version: undefined }).run(
        [{ name: 'x', offset: 0, width: 2 }],
        Float32Array.from([1, 2, 3, 0.5]),
        2,
        2,
      );
      expect(out.y.dims).toEqual([2, 1]);
      expect(Array.from(out.y.data)).toEqual([0.5, 6]);
    });

    it('accepts nested output data, widens non-FP32 numbers to float64, and maps BOOL to 0/1', async () => {
      fake.replyNext({
        model_name: 'iris',
        outputs: [
          {
            name: 'p',
            datatype: 'FP32',
            shape: [2, 2],
            data: [
              [0.25, 0.75],
              [1, 0],
            ],
          },
          { name: 'label', datatype: 'INT64', shape: [2], data: [1, 0] },
          { name: 'score', datatype: 'FP64', shape: [2, 1], data: [[0.1], [0.2]] },
          { name: 'flag', datatype: 'BOOL', shape: [2], data: [true, false] },
        ],
      });
      const out = await backend().run(FEATURES_INPUT, FEATURES.subarray(0, 8), 2, 4);
      expect(out.p).toEqual({ data: Float32Array.from([0.25, 0.75, 1, 0]), dims: [2, 2] });
      expect(out.label).toEqual({ data: Float64Array.from([1, 0]), dims: [2] });
      expect(out.score).toEqual({ data: Float64Array.from([0.1, 0.2]), dims: [2, 1] });
      expect(out.flag).toEqual({ data: Float64Array.from([1, 0]), dims: [2] });
    });

    it('refuses BYTES outputs', async () => {
      fake.replyNext({
        model_name: 'iris',
        outputs: [{ name: 'label', datatype: 'BYTES', shape: [1], data: ['setosa'] }],
      });
      const error = await backend()
        .run(FEATURES_INPUT, FEATURES.subarray(0, 4), 1, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InferenceFailedError);
      expect((error as Error).message).toBe(
        `model server ${url} returned output "label" as BYTES; only numeric outputs can be scored`,
      );
    });

    it('refuses non-finite features before calling the server', async () => {
      const features = Float32Array.from([1, 2, Number.NaN, 4]);
      await expect(backend().run(FEATURES_INPUT, features, 1, 4)).rejects.toBeInstanceOf(BadInputError);
      expect(fake.inferCalls).toBe(0);
    });

    it.each([
      ['missing outputs', { model_name: 'iris' }, 'response has no outputs'],
      ['empty outputs', { model_name: 'iris', outputs: [] }, 'response has no outputs'],
      [
        'too few values for the shape',
        { outputs: [{ name: 'p', datatype: 'FP32', shape: [3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8] }] },
        'output "p" has 8 values but its shape [3, 3] needs 9',
      ],
      [
        'non-numeric data',
        { outputs: [{ name: 'p', datatype: 'FP32', shape: [2], data: [0.5, 'x'] }] },
        'output "p" has non-numeric FP32 data',
      ],
      [
        'a fractional integer',
        { outputs: [{ name: 'p', datatype: 'INT64', shape: [1], data: [1.5] }] },
        'output "p" has non-numeric INT64 data',
      ],
      [
        'an unknown datatype',
        { outputs: [{ name: 'p', datatype: 'FLOAT', shape: [1], data: [1] }] },
        'output "p" has an unknown datatype',
      ],
      [
        'another request id',
        { id: 'someone-else', outputs: [{ name: 'p', datatype: 'FP32', shape: [1], data: [1] }] },
        'response id does not match the request id',
      ],
      ['a JSON array', [1, 2, 3], 'response is not an object'],
    ])('refuses a response with %s', async (_what, body, reason) => {
      fake.replyNext(body);
      const error = await backend()
        .run(FEATURES_INPUT, FEATURES, 3, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toBe(`model server ${url} sent an invalid response: ${reason}`);
      expect(fake.inferCalls).toBe(1);
    });

    it('treats a body that is not JSON as a failure, without retrying', async () => {
      fake.malformedNext(1);
      const error = await backend()
        .run(FEATURES_INPUT, FEATURES, 3, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toBe(`model server ${url} sent an invalid response: body is not JSON`);
      expect(fake.inferCalls).toBe(1);
    });
  });

  describe('caller errors', () => {
    it('surfaces a 400 as BadInputError with the server message, without retrying', async () => {
      const b = backend();
      const error = await b
        .run([{ name: 'features', offset: 0, width: 5 }], new Float32Array(10), 2, 5)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as BadInputError).extensions).toEqual({ field: 'inputs' });
      expect((error as Error).message).toBe(
        "inputs: unexpected shape for input 'features' for model 'iris'. Expected [-1,4], got [2,5]",
      );
      expect(fake.inferCalls).toBe(1);
      expect(sleeps).toEqual([]);
      expect(b.client.breaker.consecutiveFailures).toBe(0);
    });

    it('surfaces a 422 the same way', async () => {
      fake.failNext(1, 422, 'feature 3 is out of range');
      await expect(backend().run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(
        new BadInputError('inputs', 'feature 3 is out of range'),
      );
      expect(fake.inferCalls).toBe(1);
    });

    it('surfaces a 404 as UnavailableError naming the model, without retrying or tripping the circuit', async () => {
      const b = backend({ model: 'nope', breaker: { failureThreshold: 2 } });
      for (let i = 0; i < 3; i++) {
        const error = await b.run(FEATURES_INPUT, FEATURES, 3, 4).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnavailableError);
        expect((error as Error).message).toBe(
          `model server ${url} does not serve model "nope" version 1: Request for unknown model: 'nope' is not found`,
        );
      }
      expect(fake.inferCalls).toBe(3);
      expect(b.client.breaker.state).toBe(CircuitState.CLOSED);
    });

    it('keeps the status decisive when an error body is too large to read', async () => {
      fake.replyNext({ error: 'x'.repeat(100_000) }, 400);
      await expect(backend().run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(
        new BadInputError('inputs', 'rejected by the model server (400 Bad Request)'),
      );
    });

    it('surfaces a 500 as InferenceFailedError, without retrying', async () => {
      fake.failNext(1, 500, 'model raised: division by zero');
      const error = await backend()
        .run(FEATURES_INPUT, FEATURES, 3, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InferenceFailedError);
      expect((error as Error).message).toBe(
        `model server ${url} failed on model "iris" version 1: model raised: division by zero`,
      );
      expect(fake.inferCalls).toBe(1);
    });
  });

  describe('retries', () => {
    it('retries metadata too', async () => {
      fake.failNext(1, 503);
      await expect(backend().metadata()).resolves.toMatchObject({ inputs: [{ name: 'features' }] });
      expect(sleeps).toEqual([25]);
    });

    it('retries through two 503s with jittered exponential backoff', async () => {
      fake.failNext(2, 503);
      const out = await backend().run(FEATURES_INPUT, FEATURES, 3, 4);
      expect(out.probabilities.dims).toEqual([3, 3]);
      expect(fake.inferCalls).toBe(3);
      expect(fake.rowsPerCall).toEqual([3]);
      // Full jitter at random() = 0.5: half of 50 ms, then half of 100 ms.
      expect(sleeps).toEqual([25, 50]);
    });

    it('retries 429, 502 and 504 too', async () => {
      fake.failNext(1, 429);
      fake.failNext(1, 502);
      await backend().run(FEATURES_INPUT, FEATURES, 3, 4);
      fake.failNext(1, 504);
      await backend().run(FEATURES_INPUT, FEATURES, 3, 4);
      expect(fake.inferCalls).toBe(5);
    });

    it('gives up after the retries, naming the server and the last cause', async () => {
      fake.failNext(3, 503);
      const error = await backend()
        .run(FEATURES_INPUT, FEATURES, 3, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toBe(
        `model server ${url} answered 503 Service Unavailable (3 attempts)`,
      );
      expect(fake.inferCalls).toBe(3);
    });

    it('waits as long as Retry-After asks', async () => {
      fake.retryAfter = 1;
      fake.failNext(1, 503);
      await backend().run(FEATURES_INPUT, FEATURES, 3, 4);
      expect(sleeps).toEqual([1000]);
      expect(fake.inferCalls).toBe(2);
    });

    it('stops at once when Retry-After is longer than worth waiting, passing it on', async () => {
      fake.retryAfter = 30;
      fake.failNext(3, 429);
      const error = await backend()
        .run(FEATURES_INPUT, FEATURES, 3, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toBe(
        `model server ${url} answered 429 Too Many Requests (1 attempt); it asks to retry in 30s`,
      );
      expect((error as UnavailableError).extensions).toEqual({ retryAfterSeconds: 30 });
      expect(sleeps).toEqual([]);
      expect(fake.inferCalls).toBe(1);
    });

    it('times out a server that does not answer, without echoing the payload', async () => {
      fake.hangNext(2);
      const error = await backend({ timeoutMs: 40, retries: 1 })
        .run(FEATURES_INPUT, FEATURES, 3, 4)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      const message = (error as Error).message;
      expect(message).toBe(`model server ${url} did not answer within 40 ms (2 attempts)`);
      expect(message).not.toMatch(/5\.12|features|data/);
      expect(fake.inferCalls).toBe(2);
    });

    it('reports an unreachable server by its error code', async () => {
      const gone = `http://127.0.0.1:${await freePort()}`;
      await expect(backend({ url: gone }).run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(
        `model server ${gone} could not be reached (ECONNREFUSED) (3 attempts)`,
      );
      expect(sleeps).toEqual([25, 50]);
    });
  });

  describe('circuit breaker', () => {
    it('opens after 5 failed calls, fails the 6th fast, and closes after a successful probe', async () => {
      const b = backend({ breaker: { failureThreshold: 5, openMs: 10_000 } });
      fake.failNext(15, 503);
      for (let i = 0; i < 5; i++) {
        await expect(b.run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(/answered 503 .*\(3 attempts\)/);
      }
      expect(fake.inferCalls).toBe(15);
      expect(b.client.breaker.state).toBe(CircuitState.OPEN);

      clock.t += 3_000;
      const error = await b.run(FEATURES_INPUT, FEATURES, 3, 4).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnavailableError);
      expect((error as Error).message).toBe(
        `model server ${url} is unavailable: circuit open after 5 consecutive failures; retry in 7s`,
      );
      expect((error as UnavailableError).extensions).toEqual({ retryAfterSeconds: 7 });
      expect(fake.inferCalls).toBe(15);

      clock.t += 7_000;
      const out = await b.run(FEATURES_INPUT, FEATURES, 3, 4);
      expect(out.probabilities.dims).toEqual([3, 3]);
      expect(fake.inferCalls).toBe(16);
      expect(b.client.breaker.state).toBe(CircuitState.CLOSED);
    });

    it('counts invalid responses toward opening it', async () => {
      const b = backend({ breaker: { failureThreshold: 2 } });
      fake.malformedNext(2);
      await expect(b.run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(/invalid response/);
      await expect(b.run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(/invalid response/);
      await expect(b.run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(/circuit open/);
      expect(fake.inferCalls).toBe(2);
    });
  });

  describe('lifecycle and configuration', () => {
    it('rejects calls after close', async () => {
      const b = backend();
      await b.close();
      await expect(b.run(FEATURES_INPUT, FEATURES, 3, 4)).rejects.toThrow(
        `model server ${url}: the client is closed`,
      );
      await expect(b.ready()).rejects.toBeInstanceOf(UnavailableError);
      expect(fake.inferCalls).toBe(0);
    });

    it('keeps a path prefix, drops a trailing slash, and refuses credentials in the URL', () => {
      expect(backend({ url: 'http://models.internal:8000/' }).provider).toBe(
        'remote:http://models.internal:8000',
      );
      expect(backend({ url: 'https://gw.example/seldon/ns/iris/' }).provider).toBe(
        'remote:https://gw.example/seldon/ns/iris',
      );
      expect(() => backend({ url: 'http://user:s3cret@models.internal:8000' })).toThrow(
        'model server url must not carry credentials; pass them in headers',
      );
      expect(() => backend({ url: 'http://models.internal:8000/?token=abc' })).toThrow(
        /must not carry a query/,
      );
    });

    it('sends configured headers', async () => {
      const seen: Array<Record<string, string>> = [];
      const spy: typeof fetch = (input, init) => {
        seen.push(init?.headers as Record<string, string>);
        return fetch(input, init);
      };
      await backend({ fetch: spy, headers: { authorization: 'Bearer t0ken' } }).run(
        FEATURES_INPUT,
        FEATURES,
        3,
        4,
      );
      expect(seen[0]).toMatchObject({ authorization: 'Bearer t0ken', 'content-type': 'application/json' });
    });
  });

  describe('the fake itself', () => {
    it('serves server metadata and liveness', async () => {
      await expect((await fetch(`${url}/v2`)).json()).resolves.toEqual({
        name: 'nerve-fake-oip',
        version: '2.0.0',
        extensions: [],
      });
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
      fake.live = false;
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(503);
    });

    it('accepts nested input data and answers only the outputs asked for', async () => {
      const res = await fetch(`${url}/v2/models/price/infer`, {
        method: 'POST',
        body: JSON.stringify({
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [[1, 1]] }],
          outputs: [{ name: 'y' }],
        }),
      });
      expect(res.status).toBe(200);
      await expect(res.json()).resolves.toEqual({
        model_name: 'price',
        model_version: '1',
        outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 1], data: [1.5] }],
      });
    });

    it.each([
      [{ inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 2], data: [1, 1] }] }, /data-type is 'FP64'/],
      [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1] }] }, /expected 2, got 1/],
      [
        { inputs: [{ name: 'z', datatype: 'FP32', shape: [1, 2], data: [1, 1] }] },
        /unexpected inference input 'z'/,
      ],
      [{ inputs: [] }, /expected 1 inputs but got 0/],
      [
        { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 1] }], outputs: [{ name: 'w' }] },
        /unexpected inference output 'w'/,
      ],
    ])('answers 400 with an error body to a malformed request (%#)', async (request, message) => {
      const res = await fetch(`${url}/v2/models/price/infer`, {
        method: 'POST',
        body: JSON.stringify(request),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string };
      expect(body.error).toMatch(message);
    });

    it('answers 404 for an unknown model or version, and 405 for a wrong method', async () => {
      expect((await fetch(`${url}/v2/models/nope`)).status).toBe(404);
      expect((await fetch(`${url}/v2/models/iris/versions/9`)).status).toBe(404);
      expect((await fetch(`${url}/v2/models/iris/infer`)).status).toBe(405);
    });
  });
});
