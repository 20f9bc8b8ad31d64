// Lets a child process run the TypeScript sources directly (`node -r ./test/support/ts-register.js
// src/main.ts`), transpiling each file on load as ts-jest does, so a test can start a second hub
// process without building dist/ (which another test may be rebuilding at the same time).
//
// Transpiling the hub's sources takes about three seconds of CPU per process start, and a run starts
// about ten such processes: each output is kept on disk, named by the hash of what made it (TypeScript
// version, options, file name, source), so later starts read it instead. A changed source gets a new
// name; nothing stale is ever read.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  useDefineForClassFields: false,
  esModuleInterop: true,
  inlineSourceMap: true,
};

const cacheDir = path.join(os.tmpdir(), 'nerve-ts-register');
const salt = `${ts.version}\0${JSON.stringify(compilerOptions)}\0`;

function transpile(source, filename) {
  const key = crypto.createHash('sha256').update(salt).update(filename).update('\0').update(source);
  const cached = path.join(cacheDir, `${key.digest('hex')}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // Not transpiled yet.
  }
  const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    // Written aside, then renamed: a process reading it at the same time sees all of it or nothing.
    const partial = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(partial, outputText);
    fs.renameSync(partial, cached);
  } catch {
    // A cache that cannot be written only costs the next start its time.
  }
  return outputText;
}

require.extensions['.ts'] = (module, filename) => {
  module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
};
