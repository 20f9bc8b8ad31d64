import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { linearClassifierOnnx } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';

const MB = 1024 * 1024;

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Parsed JSON body, when the response is JSON. */
  json?: { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } & Record<
    string,
    unknown
  >;
}

/** Collects a response whole. */
function collect(res: http.IncomingMessage): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      // A HEAD answer has the JSON content type of its GET but no body.
      const json =
        String(res.headers['content-type']).includes('json') && body.length > 0
          ? JSON.parse(body.toString('utf8'))
          : undefined;
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
    });
  });
}

/** One request with a whole body (or none). */
function request(
  hub: TestHub,
  method: string,
  urlPath: string,
  headers: http.OutgoingHttpHeaders,
  body?: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: hub.port, method, path: urlPath, headers, agent: false },
      (res) => collect(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('artifacts over HTTP', () => {
  let hub: TestHub;
  let storeRoot: string;
  /** The project the tests upload to, unless they say otherwise. */
  let slug: string;
  const auth = (key: string): http.OutgoingHttpHeaders => ({ authorization: `Bearer ${key}` });
  const at = (hex: string, project = slug): string => `/artifacts/sha256/${hex}?project=${project}`;
  const createProject = async (): Promise<{ id: string; slug: string }> =>
    (
      await hub.gqlOk<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('art'), name: 'Artifacts' } },
      )
    ).createProject;

  beforeAll(async () => {
    hub = await startTestHub({ maxArtifactBytes: 10 * MB });
    storeRoot = hub.services.artifacts.store.root;
    slug = (await createProject()).slug;
  });
  afterAll(() => hub.close());

  /** The server keeps serving: GraphQL and a small upload both work. */
  async function expectServing(): Promise<void> {
    const me = await hub.gql<{ me: { role: string } }>('{ me { role } }');
    expect(me.data?.me.role).toBe('ADMIN');
    const blob = randomBytes(64);
    const put = await request(hub, 'PUT', at(sha256(blob)), auth(hub.adminKey), blob);
    expect(put.status).toBe(201);
  }

  it('stores a binary, is idempotent, and serves it back byte for byte with GET and HEAD', async () => {
    const blob = randomBytes(300 * 1024);
    const hex = sha256(blob);
    const url = `/artifacts/sha256/${hex}`;

    const created = await request(
      hub,
      'PUT',
      at(hex),
      { ...auth(hub.adminKey), 'content-type': 'application/octet-stream' },
      blob,
    );
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ sha256: hex, size: blob.length });

    const again = await request(hub, 'PUT', at(hex), auth(hub.adminKey), blob);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ sha256: hex, size: blob.length });
    const rows = await hub.db.query('SELECT size FROM artifact WHERE sha256 = $1', [hex]);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0].size)).toBe(blob.length);

    const viewer = await hub.key(Role.VIEWER);
    const got = await request(hub, 'GET', url, auth(viewer));
    expect(got.status).toBe(200);
    expect(got.headers['content-length']).toBe(String(blob.length));
    expect(got.headers.etag).toBe(`"${hex}"`);
    expect(got.body.equals(blob)).toBe(true);

    const head = await request(hub, 'HEAD', url, auth(viewer));
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(blob.length));
    expect(head.headers.etag).toBe(`"${hex}"`);
    expect(head.body).toHaveLength(0);

    const missing = await request(hub, 'GET', `/artifacts/sha256/${sha256(randomBytes(8))}`, auth(viewer));
    expect(missing.status).toBe(404);
    expect(missing.json?.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('rejects content that does not match its hash and leaves no file behind', async () => {
    const blob = randomBytes(4096);
    const claimed = sha256(randomBytes(16));
    const res = await request(hub, 'PUT', at(claimed), auth(hub.adminKey), blob);
    expect(res.status).toBe(400);
    expect(res.json?.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'sha256' });
    expect(filesUnder(path.join(storeRoot, 'tmp'))).toEqual([]);
    expect(fs.existsSync(hub.services.artifacts.store.pathOf(claimed))).toBe(false);
    expect(fs.existsSync(hub.services.artifacts.store.pathOf(sha256(blob)))).toBe(false);
    expect(
      await hub.db.query('SELECT 1 FROM artifact WHERE sha256 = ANY($1)', [[claimed, sha256(blob)]]),
    ).toHaveLength(0);
    await expectServing();
  });

  it('rejects a malformed hash, a missing key and a viewer key', async () => {
    const blob = randomBytes(128);
    const malformed = await request(hub, 'PUT', at('not-hex'), auth(hub.adminKey), blob);
    expect(malformed.status).toBe(400);
    expect(malformed.json?.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'sha256' });
    const short = await request(hub, 'GET', `/artifacts/sha256/${sha256(blob).slice(1)}`, auth(hub.adminKey));
    expect(short.status).toBe(400);
    expect(short.json?.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'sha256' });

    const url = at(sha256(blob));
    const anonymous = await request(hub, 'PUT', url, {}, blob);
    expect(anonymous.status).toBe(401);
    expect(anonymous.json?.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const badKey = await request(hub, 'PUT', url, auth('nrv_not_a_key'), blob);
    expect(badKey.status).toBe(401);
    expect(badKey.json?.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const viewer = await request(hub, 'PUT', url, auth(await hub.key(Role.VIEWER)), blob);
    expect(viewer.status).toBe(403);
    expect(viewer.json?.errors?.[0].extensions?.code).toBe('FORBIDDEN');

    expect(fs.existsSync(hub.services.artifacts.store.pathOf(sha256(blob)))).toBe(false);
    expect(filesUnder(path.join(storeRoot, 'tmp'))).toEqual([]);
    await expectServing();
  });

  it('answers 413 at once to a declared 2 GB upload, without reading the body', async () => {
    const hex = sha256(randomBytes(8));
    const { res, written } = await new Promise<{ res: RawResponse; written: number }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: hub.port,
          method: 'PUT',
          path: at(hex),
          headers: { ...auth(hub.adminKey), 'content-length': String(2 * 1024 * MB) },
          agent: false,
        },
        (response) => {
          collect(response).then((r) => {
            // Stop sending: the answer came before the body.
            req.destroy();
            resolve({ res: r, written });
          }, reject);
        },
      );
      let written = 0;
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      // One chunk only: the server must answer without waiting for the other 2 GB.
      const chunk = randomBytes(64 * 1024);
      written += chunk.length;
      req.write(chunk);
    });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(res.json?.errors?.[0].extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: 10 * MB });
    expect(written).toBeLessThan(10 * MB);
    expect(filesUnder(path.join(storeRoot, 'tmp'))).toEqual([]);
    await expectServing();
  });

  it('answers 413 to a chunked upload once it passes the limit, and removes the temp file', async () => {
    const hex = sha256(randomBytes(8));
    const chunk = randomBytes(256 * 1024);
    const total = 11 * MB;
    const res = await new Promise<RawResponse>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: hub.port,
          method: 'PUT',
          path: at(hex),
          headers: { ...auth(hub.adminKey), 'transfer-encoding': 'chunked' },
          agent: false,
        },
        (response) => {
          answered = true;
          collect(response).then(resolve, reject);
        },
      );
      let answered = false;
      req.on('error', (error) => {
        // The server may close its end while the tail is still in flight; the 413 is what counts.
        if (!answered) reject(error);
      });
      let sent = 0;
      const pump = (): void => {
        while (!answered && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!answered) req.end();
      };
      pump();
    });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(res.json?.errors?.[0].extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: 10 * MB });
    expect(filesUnder(path.join(storeRoot, 'tmp'))).toEqual([]);
    expect(fs.existsSync(hub.services.artifacts.store.pathOf(hex))).toBe(false);
    await expectServing();
  });

  it('stores an upload of exactly the limit', async () => {
    const blob = randomBytes(10 * MB);
    const res = await request(hub, 'PUT', at(sha256(blob)), auth(hub.adminKey), blob);
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ sha256: sha256(blob), size: 10 * MB });
    expect(filesUnder(path.join(storeRoot, 'tmp'))).toEqual([]);
  });
  describe('scoped to projects', () => {
    const REGISTER_MODEL =
      'mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id artifactSha256 } }';
    const REGISTER_DATASET =
      'mutation($i: RegisterDatasetVersionInput!) { registerDatasetVersion(input: $i) { id sha256 } }';
    let a: { id: string; slug: string };
    let b: { id: string; slug: string };

    beforeEach(async () => {
      [a, b] = [await createProject(), await createProject()];
    });

    it('serves a blob only to keys that can read a project it was uploaded to: 404 to others, as if unknown', async () => {
      const blob = randomBytes(2048);
      const hex = sha256(blob);
      expect((await request(hub, 'PUT', at(hex, b.slug), auth(hub.adminKey), blob)).status).toBe(201);
      const readerOfA = await hub.key(Role.ML_ENGINEER, [a.id]);
      const readerOfB = await hub.key(Role.VIEWER, [b.id]);

      for (const method of ['GET', 'HEAD']) {
        const denied = await request(hub, method, `/artifacts/sha256/${hex}`, auth(readerOfA));
        const unknown = await request(
          hub,
          method,
          `/artifacts/sha256/${sha256(randomBytes(8))}`,
          auth(readerOfA),
        );
        expect({ method, status: denied.status }).toEqual({ method, status: 404 });
        expect(denied.status).toBe(unknown.status);
        if (method === 'GET') {
          expect(denied.json?.errors?.[0].extensions?.code).toBe('NOT_FOUND');
          expect(denied.body.includes(blob)).toBe(false);
        }
      }
      const allowed = await request(hub, 'GET', `/artifacts/sha256/${hex}`, auth(readerOfB));
      expect(allowed.status).toBe(200);
      expect(allowed.body.equals(blob)).toBe(true);

      // Once A uploads the same bytes too, A's keys read them; the store keeps one file.
      expect((await request(hub, 'PUT', at(hex, a.slug), auth(readerOfA), blob)).status).toBe(201);
      const granted = await request(hub, 'GET', `/artifacts/sha256/${hex}`, auth(readerOfA));
      expect(granted.body.equals(blob)).toBe(true);
      expect(filesUnder(path.join(storeRoot, 'sha256')).filter((f) => f.endsWith(hex))).toHaveLength(1);
    });

    it('answers an upload the same whether or not another project holds the content', async () => {
      const held = randomBytes(1024);
      const fresh = randomBytes(1024);
      expect((await request(hub, 'PUT', at(sha256(held), b.slug), auth(hub.adminKey), held)).status).toBe(
        201,
      );
      const uploader = await hub.key(Role.ML_ENGINEER, [a.id]);
      const first = await request(hub, 'PUT', at(sha256(held), a.slug), auth(uploader), held);
      const control = await request(hub, 'PUT', at(sha256(fresh), a.slug), auth(uploader), fresh);
      expect([first.status, control.status]).toEqual([201, 201]);
      expect(first.json).toEqual({ sha256: sha256(held), size: held.length });
      // A retry into the same project is what answers 200.
      expect((await request(hub, 'PUT', at(sha256(held), a.slug), auth(uploader), held)).status).toBe(200);
    });

    it('refuses an upload without a project, or to a project the key cannot reach, storing nothing', async () => {
      const blob = randomBytes(512);
      const hex = sha256(blob);
      const none = await request(hub, 'PUT', `/artifacts/sha256/${hex}`, auth(hub.adminKey), blob);
      expect(none.status).toBe(400);
      expect(none.json?.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'project' });
      const scopedToA = await hub.key(Role.ML_ENGINEER, [a.id]);
      for (const project of [b.slug, unique('nowhere')]) {
        const res = await request(hub, 'PUT', at(hex, project), auth(scopedToA), blob);
        expect({ project, status: res.status }).toEqual({ project, status: 404 });
        expect(res.json?.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      }
      expect(fs.existsSync(hub.services.artifacts.store.pathOf(hex))).toBe(false);
      expect(await hub.db.query('SELECT 1 FROM artifact_grant WHERE sha256 = $1', [hex])).toHaveLength(0);
    });

    it('registers model and dataset versions only from artifacts uploaded to their project', async () => {
      const onnx = linearClassifierOnnx({ features: 2, classes: 2 });
      const csv = Buffer.from(`x,y\n${randomBytes(4).readUInt32BE()},2\n`);
      for (const bytes of [onnx, csv]) {
        expect((await request(hub, 'PUT', at(sha256(bytes), b.slug), auth(hub.adminKey), bytes)).status).toBe(
          201,
        );
      }
      const engineer = await hub.key(Role.ML_ENGINEER, [a.id]);
      const { createModel } = await hub.gqlOk<{ createModel: { id: string } }>(
        'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
        { i: { project: a.slug, name: unique('m'), task: 'CLASSIFICATION' } },
        engineer,
      );
      const { createDataset } = await hub.gqlOk<{ createDataset: { id: string } }>(
        'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
        { i: { project: a.slug, name: unique('d') } },
        engineer,
      );
      const model = { modelId: createModel.id, artifactSha256: sha256(onnx) };
      const dataset = { datasetId: createDataset.id, csvSha256: sha256(csv) };

      const refusedModel = await hub.gql(REGISTER_MODEL, { i: model }, engineer);
      expect(refusedModel.errors?.[0].extensions).toEqual({ code: 'NOT_FOUND', field: 'artifactSha256' });
      const refusedData = await hub.gql(REGISTER_DATASET, { i: dataset }, engineer);
      expect(refusedData.errors?.[0].extensions).toEqual({ code: 'NOT_FOUND', field: 'csvSha256' });
      expect(
        await hub.db.query('SELECT 1 FROM model_version WHERE model_id = $1', [createModel.id]),
      ).toHaveLength(0);
      expect(
        await hub.db.query('SELECT 1 FROM dataset_version WHERE dataset_id = $1', [createDataset.id]),
      ).toHaveLength(0);

      for (const bytes of [onnx, csv]) {
        expect((await request(hub, 'PUT', at(sha256(bytes), a.slug), auth(engineer), bytes)).status).toBe(
          201,
        );
      }
      expect((await hub.gql(REGISTER_MODEL, { i: model }, engineer)).errors).toBeUndefined();
      expect((await hub.gql(REGISTER_DATASET, { i: dataset }, engineer)).errors).toBeUndefined();
    });
  });
});
