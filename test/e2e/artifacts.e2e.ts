import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { startTestHub, type TestHub } from '../harness';

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
      const json = String(res.headers['content-type']).includes('json')
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
  const auth = (key: string): http.OutgoingHttpHeaders => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    hub = await startTestHub({ maxArtifactBytes: 10 * MB });
    storeRoot = hub.services.artifacts.store.root;
  });
  afterAll(() => hub.close());

  /** The server keeps serving: GraphQL and a small upload both work. */
  async function expectServing(): Promise<void> {
    const me = await hub.gql<{ me: { role: string } }>('{ me { role } }');
    expect(me.data?.me.role).toBe('ADMIN');
    const blob = randomBytes(64);
    const put = await request(hub, 'PUT', `/artifacts/sha256/${sha256(blob)}`, auth(hub.adminKey), blob);
    expect(put.status).toBe(201);
  }

  it('stores a binary, is idempotent, and serves it back byte for byte with GET and HEAD', async () => {
    const blob = randomBytes(300 * 1024);
    const hex = sha256(blob);
    const url = `/artifacts/sha256/${hex}`;

    const created = await request(
      hub,
      'PUT',
      url,
      { ...auth(hub.adminKey), 'content-type': 'application/octet-stream' },
      blob,
    );
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ sha256: hex, size: blob.length });

    const again = await request(hub, 'PUT', url, auth(hub.adminKey), blob);
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
    const res = await request(hub, 'PUT', `/artifacts/sha256/${claimed}`, auth(hub.adminKey), blob);
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
    const malformed = await request(hub, 'PUT', '/artifacts/sha256/not-hex', auth(hub.adminKey), blob);
    expect(malformed.status).toBe(400);
    expect(malformed.json?.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'sha256' });
    const short = await request(hub, 'GET', `/artifacts/sha256/${sha256(blob).slice(1)}`, auth(hub.adminKey));
    expect(short.status).toBe(400);
    expect(short.json?.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'sha256' });

    const url = `/artifacts/sha256/${sha256(blob)}`;
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
          path: `/artifacts/sha256/${hex}`,
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
          path: `/artifacts/sha256/${hex}`,
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
    const res = await request(hub, 'PUT', `/artifacts/sha256/${sha256(blob)}`, auth(hub.adminKey), blob);
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ sha256: sha256(blob), size: 10 * MB });
    expect(filesUnder(path.join(storeRoot, 'tmp'))).toEqual([]);
  });
});
