import fs from 'node:fs';
import { RUN_DIR_ENV } from './support/run-record';
import { describeFindings, scanRunDir } from './support/secret-scan';

/**
 * Stops the embedded database, then scans everything the suite produced (responses, WebSocket
 * messages, hub logs, hub process output) for the run's secrets: one found fails the run, naming its
 * kind and where it appeared, and the records stay for a look. A clean run's records are removed
 * (NERVE_TEST_KEEP_RECORDS=1 keeps them).
 */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__NERVE_EMBEDDED__?.close();
  const dir = process.env[RUN_DIR_ENV];
  if (!dir || !fs.existsSync(dir)) return;
  const { findings, secrets, files, bytes } = scanRunDir(dir);
  if (findings.length) throw new Error(`${describeFindings(findings)}\n(records kept in ${dir})`);
  if (process.env.NERVE_TEST_KEEP_RECORDS) {
    const mb = (bytes / 1e6).toFixed(1);
    process.stdout.write(
      `\nSecret scan: ${secrets} secrets, ${files} files, ${mb} MB, none found; kept in ${dir}\n`,
    );
  } else {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
