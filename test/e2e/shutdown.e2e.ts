import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import WebSocket from 'ws';
import { startTestHub, unique } from '../harness';

const ROOT = path.resolve(__dirname, '../..');

/** Resolves when `predicate` holds, polling within a bounded deadline. */
async function until(predicate: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether a new TCP connection to the port is refused. */
async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url.replace('/graphql', '/healthz'));
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
}

/** A graphql-ws connection, acknowledged, that records how it was closed. */
async function openSocket(url: string, key: string): Promise<{ socket: WebSocket; closed: Promise<number> }> {
  const socket = new WebSocket(url.replace('http://', 'ws://'), 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })),
    );
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve();
    });
  });
  return { socket, closed };
}

describe('graceful shutdown', () => {
  it('waits for an in-flight request, closes WebSockets with 1001, then refuses connections', async () => {
    let insertSeen: () => void = () => undefined;
    const insertStarted = new Promise<void>((resolve) => (insertSeen = resolve));
    let armed = false;
    // The mutation's transaction (it writes the project and its audit event together) is what waits:
    // on PGlite its BEGIN already waits for the single backend, on PostgreSQL its INSERT for the row.
    const hub = await startTestHub(
      {},
      { onQuery: (sql) => armed && /^(START TRANSACTION|INSERT INTO "project")/.test(sql) && insertSeen() },
    );
    const locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
    let released = false;
    try {
      // Warm the key cache so the request's first statement is the INSERT.
      expect((await hub.gql('{ me { role } }')).status).toBe(200);
      const ws = await openSocket(hub.url, hub.adminKey);

      // A transaction holding the same slug makes the hub's INSERT wait (on the row on PostgreSQL, on
      // the single backend on PGlite) until it ends.
      const slug = unique('p');
      await locker.query('BEGIN');
      await locker.query('INSERT INTO project (slug, name) VALUES ($1, $1)', [slug]);
      armed = true;
      const inFlight = hub.gql<{ createProject: { slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { slug } }',
        { i: { slug, name: slug } },
      );
      await insertStarted;

      let closed = false;
      const closing = hub.close().then(() => {
        closed = true;
      });
      expect(await ws.closed).toBe(1001);
      await until(() => refused(hub.url));
      expect(closed).toBe(false);

      await locker.query('ROLLBACK');
      released = true;
      const reply = await inFlight;
      expect(reply.status).toBe(200);
      expect(reply.errors).toBeUndefined();
      expect(reply.data?.createProject.slug).toBe(slug);
      await closing;
      expect(await refused(hub.url)).toBe(true);
      await expect(openSocket(hub.url, hub.adminKey)).rejects.toThrow();
    } finally {
      if (!released) await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await hub.close();
    }
  });

  describe('the process', () => {
    // The built hub, as deployed. Compiled only when the sources differ from those of dist/ (as `npm
    // start` does): CI has just built it, and a full tsc is most of this suite's time.
    beforeAll(() => {
      const build = spawnSync('npm', ['run', '-s', 'build:changed'], { cwd: ROOT, encoding: 'utf8' });
      if (build.status !== 0)
        throw new Error(`npm run build:changed failed:\n${build.stdout}\n${build.stderr}`);
    }, 120_000);

    it('exits 0 on SIGTERM after closing cleanly', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-sigterm-'));
      const child = spawn(process.execPath, ['dist/src/main.js'], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: process.env.DATABASE_URL,
          NERVE_DATA_DIR: dataDir,
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'error',
          NERVE_SEED_DEMO: 'false',
          // As deployed: jest's NODE_ENV=test switches off Apollo's own signal handlers and once hid a
          // shutdown hang they caused.
          NODE_ENV: 'production',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        let stdout = '';
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString('utf8');
            const match = /Nerve is up: (http:\/\/\S+\/graphql)/.exec(stdout);
            if (match) resolve(match[1]);
          });
          void exited.then((code) =>
            reject(new Error(`exited ${code} before listening:\n${stdout}\n${stderr}`)),
          );
        });
        const health = await fetch(url.replace('/graphql', '/healthz'));
        expect(health.status).toBe(200);

        child.kill('SIGTERM');
        const code = await Promise.race([
          exited,
          new Promise<string>((resolve) =>
            setTimeout(() => resolve('still running after 15 s'), 15_000).unref(),
          ),
        ]);
        expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
        expect(await refused(url)).toBe(true);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
