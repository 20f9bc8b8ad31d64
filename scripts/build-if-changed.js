// `npm start` (and train, bench) build through this: tsc only when the sources differ from those of the
// last build. A full tsc takes close to a minute on a small machine; a start on an unchanged tree should
// not. Plain JavaScript: it runs before anything is compiled. `--force` always builds.
const { createHash } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const stampFile = path.join(root, 'dist', '.sources.sha256');
// What tsconfig.build.json compiles, and what changes how it compiles.
const inputs = ['src', 'bench', 'scripts', 'migrations', 'connectors', 'ormconfig.ts'];
const configs = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function files(entry) {
  const full = path.join(root, entry);
  if (!fs.existsSync(full)) return [];
  if (!fs.statSync(full).isDirectory()) return [entry];
  return fs
    .readdirSync(full, { withFileTypes: true })
    .flatMap((d) =>
      d.isDirectory()
        ? files(path.join(entry, d.name))
        : d.name.endsWith('.ts')
          ? [path.join(entry, d.name)]
          : [],
    );
}

// Contents, not mtimes: a checkout or a copy rewrites mtimes of files it did not change.
const hash = createHash('sha256');
for (const file of [...inputs.flatMap(files).sort(), ...configs]) {
  hash.update(`${file}\0`);
  if (fs.existsSync(path.join(root, file))) hash.update(fs.readFileSync(path.join(root, file)));
  hash.update('\0');
}
const digest = hash.digest('hex');
const built = fs.existsSync(path.join(root, 'dist', 'src', 'main.js'));
const stamp = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, 'utf8').trim() : '';
if (!process.argv.includes('--force') && built && stamp === digest) {
  console.log('build: sources unchanged since the last build; not compiling');
  process.exit(0);
}
console.log('build: compiling (tsc -p tsconfig.build.json)…');
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
} catch {
  fs.rmSync(stampFile, { force: true });
  process.exit(1);
}
fs.writeFileSync(stampFile, `${digest}\n`);
