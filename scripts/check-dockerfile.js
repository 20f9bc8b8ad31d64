// Builds and starts the Dockerfile's image without a Docker engine, so CI notices when the Dockerfile
// stops matching the code (it once never copied connectors/, and the image could not compile).
// Each stage gets a folder standing for its /app; COPY copies exactly the paths the Dockerfile names,
// minus what .dockerignore excludes; `npm` RUN steps run there; other RUN steps (mkdir /data, chown)
// only make sense inside an image and are skipped, saying so. The build stage's `npm ci` reuses the
// checkout's node_modules (installed from the same lock a step earlier in CI); the production stage's
// `npm ci --omit=dev` runs for real, so a runtime import of a dev dependency fails here. Then the final
// stage's CMD starts on the embedded database and /readyz must answer 200.
//
//   node scripts/check-dockerfile.js [--keep]
/* global fetch, setTimeout */
const { execSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const workdirInImage = '/app';
const keep = process.argv.includes('--keep');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nerve-image-'));

function instructions(text) {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [, op, rest] = /^(\S+)\s*(.*)$/.exec(line);
      return { op: op.toUpperCase(), rest };
    });
}

function globToRegExp(pattern) {
  const body = pattern
    .replace(/^\/+|\/+$/g, '')
    .split(/(\*\*\/|\*|\?)/)
    .map((part) =>
      part === '**/'
        ? '(?:.*/)?'
        : part === '*'
          ? '[^/]*'
          : part === '?'
            ? '[^/]'
            : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${body}$`);
}

const ignored = (() => {
  const file = path.join(root, '.dockerignore');
  const patterns = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
        .map(globToRegExp)
    : [];
  // A path is out when it, or a folder above it, matches.
  return (relative) => {
    const parts = relative.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (patterns.some((re) => re.test(prefix))) return true;
    }
    return false;
  };
})();

function copyFromContext(source, target) {
  const relative = path.relative(root, path.join(root, source)).split(path.sep).join('/');
  if (ignored(relative)) return;
  const full = path.join(root, relative);
  if (!fs.existsSync(full)) throw new Error(`COPY ${source}: not in the build context`);
  if (fs.statSync(full).isDirectory()) {
    fs.mkdirSync(target, { recursive: true });
    for (const entry of fs.readdirSync(full))
      copyFromContext(`${relative}/${entry}`, path.join(target, entry));
  } else {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(full, target);
  }
}

function inStage(stageDir, imagePath) {
  const absolute = path.posix.resolve(workdirInImage, imagePath);
  if (absolute !== workdirInImage && !absolute.startsWith(`${workdirInImage}/`))
    throw new Error(`${imagePath}: only paths under ${workdirInImage} are checked`);
  return path.join(stageDir, path.posix.relative(workdirInImage, absolute));
}

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function main() {
  const stages = [];
  let stage;
  for (const { op, rest } of instructions(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'))) {
    if (op === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(rest)?.[1] ?? `stage${stages.length}`;
      stage = { name, dir: path.join(tmp, name), env: {}, cmd: undefined };
      fs.mkdirSync(stage.dir, { recursive: true });
      stages.push(stage);
      console.log(`\n# FROM ${rest}`);
    } else if (op === 'WORKDIR') {
      if (rest !== workdirInImage) throw new Error(`WORKDIR ${rest}: the check assumes ${workdirInImage}`);
    } else if (op === 'COPY') {
      const args = rest.split(/\s+/);
      const from = args[0].startsWith('--from=') ? args.shift().slice('--from='.length) : undefined;
      const dest = args.pop();
      const toDir = dest.endsWith('/') || args.length > 1;
      for (const source of args) {
        const target = inStage(stage.dir, toDir ? path.posix.join(dest, path.posix.basename(source)) : dest);
        if (from) {
          const origin = stages.find((s) => s.name === from);
          if (!origin) throw new Error(`COPY --from=${from}: no such stage`);
          fs.cpSync(inStage(origin.dir, source), target, { recursive: true, verbatimSymlinks: false });
        } else {
          copyFromContext(source, target);
        }
      }
      console.log(`COPY ${rest}`);
    } else if (op === 'RUN') {
      if (!rest.startsWith('npm ')) {
        console.log(`RUN ${rest}   (skipped: image-only)`);
      } else if (/^npm ci\b/.test(rest) && !/--omit=dev/.test(rest)) {
        console.log(`RUN ${rest}   (the checkout's node_modules, installed from the same lock)`);
        fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage.dir, 'node_modules'), 'dir');
      } else {
        const command = /^npm ci\b/.test(rest) ? `${rest} --prefer-offline` : rest;
        console.log(`RUN ${command}`);
        execSync(command, { cwd: stage.dir, stdio: 'inherit', env: { ...process.env, NODE_ENV: '' } });
      }
    } else if (op === 'ENV') {
      for (const [, key, value] of rest.matchAll(/(\w+)=(\S+)/g)) stage.env[key] = value;
    } else if (op === 'CMD') {
      stage.cmd = JSON.parse(rest);
    }
  }

  const final = stages.at(-1);
  if (!final.cmd) throw new Error('the final stage has no CMD');
  const port = await freePort();
  const dataDir = path.join(tmp, 'data');
  const env = { ...process.env, ...final.env, NERVE_DATA_DIR: dataDir, PORT: String(port) };
  delete env.DATABASE_URL;
  env.NERVE_SEED_DEMO = 'false';
  env.LOG_LEVEL = 'warn';
  const [command, ...args] = final.cmd;
  console.log(`\n# start: ${final.cmd.join(' ')} (embedded database in ${dataDir}, port ${port})`);
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: final.dir,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 180_000;
  let ready = false;
  while (!ready && !exited && Date.now() < deadline) {
    ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (!exited) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  if (!ready) throw new Error('the image did not become ready (/readyz)');
  console.log('image check: built from the Dockerfile file set, started, /readyz 200');
}

main()
  .catch((error) => {
    console.error(`image check failed: ${error instanceof Error ? error.message : error}`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
  });
