// Time from `npm start` on a fresh data directory to the first answered `predict` on the demo endpoint:
// the figure a newcomer waits through. Builds first when the sources changed (as npm start does), then
// starts the hub the way npm start does and polls predict until it answers.
//
//   node scripts/time-to-predict.js        (prints seconds to the banner and to the first predict)
/* global fetch, setTimeout */
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const PREDICT = `mutation { predict(endpoint: "ticket-router", input: { subject: "Refund for a double charge",
  body: "I was billed twice", channel: "email", customer_tier: "pro", account_age_days: 400, prior_tickets: 1,
  attachments: 0 }) { label modelVersion } }`;

async function main() {
  execFileSync(process.execPath, [path.join(__dirname, 'build-if-changed.js')], {
    cwd: root,
    stdio: 'inherit',
  });
  const port = await new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-first-predict-'));
  const env = { ...process.env, NERVE_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL;
  delete env.NERVE_SEED_DEMO;
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/src/main.js'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  let exited = false;
  child.once('exit', () => (exited = true));
  child.stdout.on('data', (chunk) => (output += chunk));
  try {
    let key;
    let banner;
    for (;;) {
      if (exited) throw new Error(`the hub exited:\n${output}`);
      if (!key && output.includes('Nerve is up')) {
        banner = seconds();
        key = /nrv_[\w-]+/.exec(output)?.[0];
        if (!key) throw new Error(`no admin key in the banner:\n${output}`);
        if (output.includes('DEMO INCOMPLETE')) console.log(output);
      }
      if (key) {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: PREDICT }),
        }).then((r) => r.json());
        if (res.data?.predict) {
          const predict = seconds();
          console.log(
            `time to first predict: ${predict.toFixed(1)} s (banner at ${banner.toFixed(1)} s; ` +
              `answered ${res.data.predict.label}, version ${res.data.predict.modelVersion})`,
          );
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (exited ? resolve() : child.once('exit', resolve)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`time-to-predict: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 1;
});
