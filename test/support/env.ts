import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config, type LogLevel } from '../../src/config/config';
import { Logger, logLevelEnabled } from '../../src/common/logger';
import { recordLog, runDir } from './run-record';

/**
 * What both tiers that touch the database share: the end-to-end harness (a whole hub over HTTP) and
 * the medium tier (the services alone). Nothing here loads the HTTP or GraphQL stack.
 */

/**
 * The suite's NERVE_SECRET_KEY: chosen by global-setup for every worker and hub process of the run,
 * so the secret scan knows it (random per process outside jest).
 */
export const TEST_SECRET_KEY = process.env.NERVE_SECRET_KEY || randomBytes(32).toString('base64');

/** A fresh random suffix, so tests sharing a database never collide. */
export const unique = (prefix = 't'): string => `${prefix}-${randomBytes(5).toString('hex')}`;

/**
 * The configuration of a hub or a set of services under test: the test database (DATABASE_URL, set by
 * global-setup), artifacts in a new temporary folder, no demo, no scheduler (tests drive evaluations
 * themselves, on an injected clock). `dataDir` is that folder, for the caller to remove.
 */
export function testConfig(overrides: Partial<Config> = {}): { config: Config; dataDir: string } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-test-'));
  const config: Config = {
    ...loadConfig({
      DATABASE_URL: process.env.DATABASE_URL,
      NERVE_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      NERVE_SEED_DEMO: 'false',
      NERVE_SCHEDULER: 'false',
      NERVE_SECRET_KEY: TEST_SECRET_KEY,
    }),
    ...overrides,
  };
  return { config, dataDir };
}

/**
 * The logger of code under test. While the run keeps records, every line down to debug goes to the
 * run's log files (the secret scan reads them); stderr shows what TEST_LOG_LEVEL asks for (nothing by
 * default).
 */
export function testLogger(stderrLevel: LogLevel): Logger {
  if (!runDir()) return new Logger(stderrLevel);
  return new Logger('debug', {}, (line, level) => {
    recordLog(line);
    if (logLevelEnabled(level, stderrLevel)) process.stderr.write(`${line}\n`);
  });
}
