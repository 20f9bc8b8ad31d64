// `npm run deps`: the dependency rule of .dependency-cruiser.cjs. First dependency-cruiser's own rules,
// file by file; then the graph folded into that file's components (a module, a layer, a vendor folder),
// failing on a cycle between components, which file-by-file rules cannot see: endpoint.service ->
// inference-runtime and prediction.service -> endpoint.service make no file cycle, yet the inference and
// endpoints modules need each other. Also fails on a temporary exception that no longer matches anything.
// Plain JavaScript, like the other scripts that run before anything is compiled.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const CONFIG = '.dependency-cruiser.cjs';
const depcruise = (...args) =>
  spawnSync(
    path.join(root, 'node_modules', '.bin', 'depcruise'),
    ['--config', CONFIG, ...args, 'src', 'connectors'],
    {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: args.length ? 'pipe' : 'inherit',
    },
  );

const rules = depcruise();
const cruise = depcruise('--output-type', 'json');
if (cruise.status !== 0) {
  process.stderr.write(cruise.stderr);
  process.exit(cruise.status ?? 1);
}

const config = require(path.join(root, CONFIG));
const { components, ignore, temporary } = config.moduleCycles;
const patterns = components.map((c) => (Array.isArray(c) ? [new RegExp(c[0]), c[1]] : [new RegExp(c)]));
const componentOf = (file) => {
  for (const [pattern, name] of patterns) {
    const match = pattern.exec(file);
    if (match) return name ?? match[0];
  }
  return file;
};
const matches = (rule, from, to) => new RegExp(rule.from).test(from) && new RegExp(rule.to).test(to);

const result = JSON.parse(cruise.stdout);
const cruised = new Set(result.modules.map((m) => m.source));
const used = new Set();
/** component -> component -> ["file -> file", ...] */
const edges = new Map();
for (const module of result.modules) {
  for (const dependency of module.dependencies) {
    const from = module.source;
    const to = dependency.resolved;
    const a = componentOf(from);
    const b = componentOf(to);
    if (a === b || !cruised.has(to)) continue;
    const skipped = ignore.find((rule) => matches(rule, from, to));
    if (skipped) {
      used.add(skipped);
      continue;
    }
    if (!edges.has(a)) edges.set(a, new Map());
    const evidence = edges.get(a).get(b) ?? [];
    evidence.push(
      `${from} -> ${to}${dependency.dependencyTypes.includes('type-only') ? ' (type-only)' : ''}`,
    );
    edges.get(a).set(b, evidence);
  }
}

// Tarjan's strongly connected components: each of more than one component is a cycle (or several).
const order = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const cycles = [];
let next = 0;
const visit = (v) => {
  order.set(v, next);
  low.set(v, next++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!order.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), order.get(w)));
  }
  if (low.get(v) === order.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) cycles.push(scc.sort());
  }
};
for (const v of [...edges.keys()].sort()) if (!order.has(v)) visit(v);

for (const scc of cycles) {
  console.log(`\n  error module-cycle: ${scc.join(', ')} need one another:`);
  for (const a of scc)
    for (const [b, evidence] of edges.get(a) ?? [])
      if (scc.includes(b)) {
        console.log(`    ${a} -> ${b}`);
        for (const line of evidence) console.log(`        ${line}`);
      }
}

// A cycle is reported once, from one of its files: an exception for another of them is in use too.
const warned = new Set(
  result.summary.violations
    .filter((v) => v.rule.severity === 'warn')
    .flatMap((v) => [v.from, ...(v.cycle ?? []).map((c) => c.name)].map((file) => `${v.rule.name}\0${file}`)),
);
const usedTemporary = new Set([...used].map((rule) => rule.temporary).filter(Boolean));
const stale = temporary.filter((e) =>
  e.rule === 'module-cycle' ? !usedTemporary.has(e) : !warned.has(`${e.rule} (temporary)\0${e.from}`),
);
for (const e of stale)
  console.log(
    `\n  error stale-exception: ${e.rule} for ${e.from} matches nothing; remove it from .dependency-cruiser.cjs`,
  );

const known = [...usedTemporary];
for (const e of known) console.log(`\n  warn module-cycle (temporary): ${e.from} -> ${e.to}\n    ${e.why}`);

const count = new Set([...cruised].map(componentOf)).size;
console.log(
  `\n${cycles.length + stale.length === 0 ? '✔' : 'x'} ${cycles.length} cycles among ${count} components ` +
    `(${cycles.flat().length} caught in them), ` +
    `${stale.length} stale exceptions, ${known.length} temporary exceptions`,
);
if (rules.status !== 0 || cycles.length + stale.length > 0) process.exitCode = 1;
