import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { projectRoot } from '../../src/common/paths';

/**
 * What the suite produced, kept for the secret scan of `test/global-teardown.ts`: every response
 * body a hub sent to a test over HTTP, every message it sent over WebSocket, every log line of the
 * hubs, the output of hub processes, and the secrets the run knows (API keys, NERVE_SECRET_KEY, the
 * fakes' vendor credentials). Each worker appends JSON lines to its own files under the run
 * directory that `test/global-setup.ts` makes; without one (a run outside jest), nothing is kept.
 */
export const RUN_DIR_ENV = 'NERVE_TEST_RUN_DIR';

/**
 * The files of a run: `<channel>-<worker pid>.jsonl`, and `process-<pid>.log` for a hub process's
 * output. `secrets` is what the others are scanned for.
 */
export type Channel = 'responses' | 'ws' | 'logs' | 'secrets';

export interface SecretRecord {
  /** What it is, named in a finding instead of the secret itself: `API key`, `NERVE_SECRET_KEY`, … */
  kind: string;
  value: string;
  /** The id of the one response allowed to hold it: an API key's own creation response. */
  allowedIn?: string;
}

const fds = new Map<string, number>();

export function runDir(): string | undefined {
  return process.env[RUN_DIR_ENV] || undefined;
}

function write(name: string, text: string): void {
  const dir = runDir();
  if (!dir) return;
  const file = path.join(dir, name);
  try {
    let fd = fds.get(file);
    if (fd === undefined) {
      fd = fs.openSync(file, 'a');
      fds.set(file, fd);
    }
    // Synchronous: a worker may exit right after its last test, and a few µs per record is nothing.
    fs.writeSync(fd, text);
  } catch {
    // The run directory is gone (the run is over): recording must never fail a test.
  }
}

function append(channel: Channel, line: string): void {
  write(`${channel}-${process.pid}.jsonl`, `${line}\n`);
}

/** The test file (and test) running now, for a finding to point at. */
function currentTest(): string | undefined {
  if (typeof expect === 'undefined') return undefined;
  const { testPath, currentTestName } = expect.getState();
  if (!testPath) return undefined;
  const file = path.relative(projectRoot, testPath);
  return currentTestName ? `${file} › ${currentTestName}` : file;
}

/** Remembers a secret of the run; `allowedIn` names the one response that may show it. */
export function recordSecret(kind: string, value: string | undefined | null, allowedIn?: string): void {
  if (!value) return;
  const record: SecretRecord = { kind, value, ...(allowedIn ? { allowedIn } : {}) };
  append('secrets', JSON.stringify(record));
}

/** One log line as the hub's logger wrote it. */
export function recordLog(line: string): void {
  append('logs', JSON.stringify({ test: currentTest(), log: line }));
}

/** Output of a hub process, as it came (a secret split across two chunks stays whole in the file). */
export function recordProcessOutput(pid: number | undefined, text: string): void {
  write(`process-${pid ?? 'unknown'}.log`, text);
}

/**
 * A response body from a hub. An API key's secret is shown once, in the response that created it, and
 * an automation's signing secret in the answer to `automationSigningSecret`: those secrets are recorded
 * as allowed in that response only, so the same secret anywhere else (another response, a log line) is
 * a finding.
 */
function recordResponse(url: string, status: number, request: string, body: string): void {
  const id = randomBytes(8).toString('hex');
  for (const [operation, { kind, field }] of Object.entries(REVEALING)) {
    if (!request.includes(operation)) continue;
    try {
      for (const secret of secretFields(JSON.parse(body), field)) recordSecret(kind, secret, id);
    } catch {
      // Not JSON: nothing to allow.
    }
  }
  append('responses', JSON.stringify({ id, test: currentTest(), url, status, body }));
}

/** The operations whose answer shows a secret by design, and the field that holds it. */
const REVEALING: Record<string, { kind: string; field: string }> = {
  createApiKey: { kind: 'API key', field: 'secret' },
  automationSigningSecret: { kind: 'automation signing secret', field: 'automationSigningSecret' },
};

function secretFields(value: unknown, field: string, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) secretFields(item, field, into);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === field && typeof item === 'string') into.push(item);
      else secretFields(item, field, into);
    }
  }
  return into;
}

const hubOrigins = new Set<string>();

/** Responses from this hub are recorded (fakes' responses are not: they hold vendor tokens by design). */
export function recordResponsesFrom(url: string): void {
  hubOrigins.add(new URL(url).origin);
}

const INSTALLED = Symbol.for('nerve.test.recorders');

/**
 * Wraps `fetch` (response bodies from registered hubs) and the `ws` client socket (messages a server
 * sent), once per test file. Recording never changes what the caller sees: the body is read from a
 * clone, alongside the caller.
 */
export function installRecorders(): void {
  if (!runDir()) return;
  const scope = globalThis as unknown as Record<symbol, boolean>;
  if (scope[INSTALLED]) return;
  scope[INSTALLED] = true;

  const fetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    const type = res.headers.get('content-type') ?? '';
    if (hubOrigins.has(new URL(url).origin) && /json|text/.test(type)) {
      const request = typeof init?.body === 'string' ? init.body : '';
      res
        .clone()
        .text()
        .then(
          (body) => recordResponse(url, res.status, request, body),
          () => undefined,
        );
    }
    return res;
  };

  // Client sockets only: what a server sent. A server socket's messages come from the client and
  // hold its key (connection_init), which is where a key belongs.
  const proto = WebSocket.prototype as unknown as {
    emit(this: { _isServer?: boolean }, event: string | symbol, ...args: unknown[]): boolean;
  };
  const emit = proto.emit;
  proto.emit = function (event, ...args) {
    if (event === 'message' && !this._isServer && args[1] !== true) {
      const data = args[0];
      const text = Array.isArray(data)
        ? Buffer.concat(data as Buffer[]).toString('utf8')
        : Buffer.from(data as Buffer).toString('utf8');
      append('ws', JSON.stringify({ test: currentTest(), ws: text }));
    }
    return emit.call(this, event, ...args);
  };
}
