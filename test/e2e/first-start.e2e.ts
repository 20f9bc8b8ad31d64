import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/common/paths';
import { trainTicketRouter } from '../../src/training/train-ticket-router';
import { recordProcessOutput, recordResponsesFrom, runDir } from '../support/run-record';

/**
 * The `npm start` path of a fresh clone: a hub process on the embedded database in its own data
 * directory, seeding the demo. Not the suite's database: the demo is seeded only into an empty one.
 */
jest.setTimeout(300_000);

interface Started {
  child: ChildProcess;
  url?: string;
  output: string;
  exit: Promise<number | null>;
}

function start(dataDir: string, extra: NodeJS.ProcessEnv = {}): Promise<Started> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NERVE_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: runDir() ? 'debug' : 'error',
    NERVE_SCHEDULER: 'false',
    NODE_ENV: 'production',
  };
  delete env.DATABASE_URL;
  delete env.NERVE_SEED_DEMO;
  Object.assign(env, extra);
  const child = spawn(process.execPath, ['-r', './test/support/ts-register.js', 'src/main.ts'], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started: Started = {
    child,
    output: '',
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  return new Promise((resolve) => {
    const read = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      started.output += text;
      // The banner shows the one-time admin key by design; anywhere else in the output a key is a finding.
      recordProcessOutput(
        child.pid,
        text.includes('Nerve is up') ? text.replace(/nrv_[\w-]+/g, '[the banner key]') : text,
      );
      const match = /Nerve is up: (http:\/\/\S+\/graphql)[\s\S]*\n\n$/.exec(started.output);
      if (match && !started.url) {
        started.url = match[1];
        recordResponsesFrom(started.url);
        resolve(started);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void started.exit.then(() => resolve(started));
  });
}

async function stop(started: Started, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill(signal);
  await started.exit;
}

async function gql(
  url: string,
  key: string,
  query: string,
): Promise<{ data?: Record<string, unknown>; errors?: Array<{ extensions?: { code?: string } }> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, unknown> };
}

const PREDICT = `mutation { predict(endpoint: "ticket-router", input: { subject: "Refund for a double charge",
  body: "I was billed twice", channel: "email", customer_tier: "pro", account_age_days: 400, prior_tickets: 1,
  attachments: 0 }) { label modelVersion } }`;
const VERSIONS = `{ project(slug: "demo") { models { name versions(first: 10) { id version } } } }`;

describe('first start', () => {
  const dirs: string[] = [];
  const running: Started[] = [];
  const tempDir = (): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-first-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => stop(s, 'SIGKILL')));
  });
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a demo seed that fails midway says so, and the next start finishes it; predict then works', async () => {
    const dataDir = tempDir();
    // Training is deterministic: version 2's ONNX file is known ahead. A plain file where its
    // artifact folder must go makes exactly that upload fail, after version 1 is registered.
    const v2 = createHash('sha256').update(trainTicketRouter({}).onnx).digest('hex');
    const blocker = path.join(dataDir, 'artifacts', 'sha256', v2.slice(0, 2));
    fs.mkdirSync(path.dirname(blocker), { recursive: true });
    fs.writeFileSync(blocker, 'not a folder');

    const first = await start(dataDir);
    running.push(first);
    expect(first.url).toBeDefined();
    expect(first.output).toContain('Demo project created: "demo"');
    expect(first.output).toMatch(
      /DEMO INCOMPLETE[\s\S]*missing: ticket-router version 2, endpoint "ticket-router"/,
    );
    const key = /nrv_[\w-]+/.exec(first.output)![0];
    const before = await gql(first.url!, key, PREDICT);
    expect(before.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const v1 = (await gql(first.url!, key, VERSIONS)).data as {
      project: { models: Array<{ versions: Array<{ id: string; version: number }> }> };
    };
    expect(v1.project.models[0].versions.map((v) => v.version)).toEqual([1]);
    await stop(first);

    fs.rmSync(blocker);
    const second = await start(dataDir);
    running.push(second);
    expect(second.output).not.toContain('DEMO INCOMPLETE');
    expect(second.output).toContain('seeding resumed and finished');
    const predicted = await gql(second.url!, key, PREDICT);
    expect(predicted.errors).toBeUndefined();
    expect(predicted.data).toEqual({ predict: { label: expect.any(String), modelVersion: 1 } });
    const both = (await gql(second.url!, key, VERSIONS)).data as typeof v1;
    // Resumed, not redone: version 1 is the one the first start registered.
    expect(both.project.models[0].versions.map((v) => v.version).sort()).toEqual([1, 2]);
    expect(both.project.models[0].versions.find((v) => v.version === 1)!.id).toBe(
      v1.project.models[0].versions[0].id,
    );
    await stop(second);

    const third = await start(dataDir);
    running.push(third);
    expect(third.output).not.toMatch(/DEMO INCOMPLETE|seeding resumed|Demo project created/);
    await stop(third);
  });

  it('a second hub on the same data directory exits, naming the process that holds it; a dead holder does not', async () => {
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, 'pgdata'), { recursive: true });
    // A lock left by a process that is gone (a crash): taken over.
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    fs.writeFileSync(path.join(dataDir, 'pgdata.lock'), `${gone.pid}\n`);

    const noDemo = { NERVE_SEED_DEMO: 'false' };
    const holder = await start(dataDir, noDemo);
    running.push(holder);
    expect(holder.url).toBeDefined();

    const second = await start(dataDir, noDemo);
    running.push(second);
    expect(second.url).toBeUndefined();
    expect(await second.exit).toBe(1);
    expect(second.output).toContain(
      `Nerve cannot start: the data directory ${dataDir} is in use by process ${holder.child.pid}`,
    );
    expect(second.output).not.toMatch(/\n\s+at /);
    await stop(holder);
  });
});
