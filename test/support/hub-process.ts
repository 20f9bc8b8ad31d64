import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/common/paths';
import { recordProcessOutput, recordResponsesFrom, runDir } from './run-record';

/** Another hub in its own process. */
export interface HubProcess {
  url: string;
  child: ChildProcess;
  dataDir: string;
}

/**
 * Starts a hub in a child process from the sources (not dist/, which another test may be rebuilding),
 * on the test database, with `env` on top; resolves once it says it is up. The caller stops it
 * (SIGTERM, or SIGKILL to simulate a crash) and removes `dataDir`.
 */
export async function startHubProcess(env: Record<string, string | undefined>): Promise<HubProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-process-'));
  const child = spawn(process.execPath, ['-r', './test/support/ts-register.js', 'src/main.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      NERVE_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      // Logged down to debug while the run keeps records: the secret scan reads every line.
      LOG_LEVEL: runDir() ? 'debug' : 'error',
      NERVE_SEED_DEMO: 'false',
      NERVE_SCHEDULER: 'false',
      NODE_ENV: 'production',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      output += text;
      recordProcessOutput(child.pid, text);
      const match = /Nerve is up: (http:\/\/\S+\/graphql)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`the hub process exited ${code}:\n${output}`)));
  });
  recordResponsesFrom(url);
  return { url, child, dataDir };
}
