import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RUN_DIR_ENV, recordLog, recordSecret } from './run-record';
import { KnownSecrets, describeFindings, scanRunDir } from './secret-scan';

const apiKey = (): string => `nrv_${randomBytes(24).toString('base64url')}`;

describe('the secret scan', () => {
  let dir: string;
  let suiteDir: string | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-scan-spec-'));
    // This spec's planted secrets go to a run directory of its own, never the suite's.
    suiteDir = process.env[RUN_DIR_ENV];
    process.env[RUN_DIR_ENV] = dir;
  });
  afterEach(() => {
    process.env[RUN_DIR_ENV] = suiteDir;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds a planted secret in a log line and names its kind and place, never the secret', () => {
    const masterKey = randomBytes(32).toString('base64');
    const key = apiKey();
    recordSecret('NERVE_SECRET_KEY', masterKey);
    recordSecret('API key', key);
    recordLog(JSON.stringify({ level: 'info', msg: 'started' }));
    recordLog(JSON.stringify({ level: 'error', msg: 'sync failed', error: `bad key ${masterKey}` }));
    recordLog(JSON.stringify({ level: 'debug', msg: 'auth', header: `Bearer ${key}` }));

    const { findings } = scanRunDir(dir);
    const logFile = path.join(dir, `logs-${process.pid}.jsonl`);
    expect(findings).toEqual([
      expect.objectContaining({ kind: 'NERVE_SECRET_KEY', file: logFile, line: 2 }),
      expect.objectContaining({ kind: 'API key', file: logFile, line: 3 }),
    ]);
    expect(findings[0].test).toContain('secret-scan.spec.ts');
    const report = describeFindings(findings);
    expect(report).toContain(`NERVE_SECRET_KEY in ${logFile}:2`);
    expect(report).not.toContain(masterKey);
    expect(report).not.toContain(key);
  });

  it('allows an API key in its own creation response only, and finds it in any other', () => {
    const key = apiKey();
    const responses = [
      { id: 'aa01', test: 't', body: JSON.stringify({ data: { createApiKey: { secret: key } } }) },
      { id: 'aa02', test: 't', body: JSON.stringify({ data: { me: { keyId: 'k' } } }) },
      { id: 'aa03', test: 't', body: JSON.stringify({ errors: [{ message: `unknown key ${key}` }] }) },
    ];
    fs.writeFileSync(path.join(dir, 'responses-1.jsonl'), responses.map((r) => JSON.stringify(r)).join('\n'));
    recordSecret('API key', key);
    recordSecret('API key', key, 'aa01');

    const { findings } = scanRunDir(dir);
    expect(findings).toEqual([
      { kind: 'API key', file: path.join(dir, 'responses-1.jsonl'), line: 3, test: 't' },
    ]);
  });

  it('finds other secrets however JSON escapes them, and ignores values too short to mean anything', () => {
    const secrets = new KnownSecrets([
      { kind: 'vendor token', value: 'tok"en\\with-quotes-123' },
      { kind: 'short', value: 'abc' },
    ]);
    const once = JSON.stringify({ log: 'tok"en\\with-quotes-123' });
    const twice = JSON.stringify({ log: once });
    expect(secrets.scan(`${once}\n${twice}\nabc abc`, 'f').map((f) => [f.kind, f.line])).toEqual([
      ['vendor token', 1],
      ['vendor token', 2],
    ]);
  });

  it('scans a large record quickly', () => {
    const keys = Array.from({ length: 2_000 }, apiKey);
    const secrets = new KnownSecrets(keys.map((value) => ({ kind: 'API key', value })));
    for (let i = 0; i < 10; i++) secrets.add({ kind: 'token', value: randomBytes(24).toString('hex') });
    const line = JSON.stringify({
      id: 'ff',
      body: `{"data":{"prefix":"nrv_abcdefgh","x":"${'y'.repeat(200)}"}}`,
    });
    const text = Array.from({ length: 100_000 }, () => line).join('\n');
    const started = Date.now();
    expect(secrets.scan(`${text}\n${keys[1234]}`, 'f')).toEqual([
      { kind: 'API key', file: 'f', line: 100_001 },
    ]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
