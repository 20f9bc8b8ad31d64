/**
 * A small reader of V8 CPU profiles taken in-process with node:inspector: self time grouped by
 * package (graphql, @apollo/server, type-graphql, nerve src, node internals, ...), and the same
 * time with runtime frames charged to the package that called into the runtime.
 * Not a benchmark itself.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import { fmt } from './support';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/** Which package a profile frame belongs to. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : 'V8 builtins / native';
  if (url.startsWith('node:')) return 'node internals';
  if (url.startsWith('wasm://')) return 'PGlite wasm (embedded db)';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [scope, name] = file.slice(modules + '/node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  if (file.includes('/dist/bench/')) return 'bench harness';
  if (file.includes('/dist/src/') || file.includes('/src/')) return 'nerve src';
  return file;
}

/** Frames whose time belongs to whoever called them. */
const RUNTIME = new Set(['V8 builtins / native', 'node internals']);

export interface ProfileSummary {
  requests: number;
  busyUs: number;
  idleUs: number;
  /** Self time by the package of the sampled frame. */
  self: Map<string, number>;
  /** Self time by the nearest caller outside node internals and V8 builtins (runtime work charged to whoever asked for it). */
  attributed: Map<string, number>;
  functions: Map<string, { pkg: string; us: number; callers: Map<string, number> }>;
}

export function summarize(profile: CpuProfile, requests: number): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const pkgOf = (n: ProfileNode): string => packageOf(n.callFrame.url, n.callFrame.functionName);
  const nameOf = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url
      ? ` ${url
          .replace(/^file:\/\//, '')
          .replace(/^.*\/node_modules\//, '')
          .replace(/^.*\/dist\//, 'dist/')}:${lineNumber + 1}`
      : '';
    return `${functionName || '(anonymous)'}${file}`;
  };
  const owner = (n: ProfileNode): { pkg: string; caller?: ProfileNode } => {
    const own = pkgOf(n);
    if (!RUNTIME.has(own)) return { pkg: own };
    for (let id = parent.get(n.id); id !== undefined; id = parent.get(id)) {
      const up = nodes.get(id);
      if (!up) break;
      const pkg = pkgOf(up);
      if (pkg === '(root)') break;
      if (!RUNTIME.has(pkg)) return { pkg, caller: up };
    }
    return { pkg: own };
  };

  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  for (let i = 0; i < samples.length; i++) {
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + us);
  }
  const summary: ProfileSummary = {
    requests,
    busyUs: 0,
    idleUs: 0,
    self: new Map(),
    attributed: new Map(),
    functions: new Map(),
  };
  const add = (map: Map<string, number>, key: string, us: number): void =>
    void map.set(key, (map.get(key) ?? 0) + us);
  for (const [id, us] of selfUs) {
    const node = nodes.get(id);
    if (!node) continue;
    const pkg = pkgOf(node);
    if (pkg === '(idle)') {
      summary.idleUs += us;
      continue;
    }
    summary.busyUs += us;
    add(summary.self, pkg, us);
    const { pkg: ownerPkg, caller } = owner(node);
    add(summary.attributed, ownerPkg, us);
    const name = nameOf(node);
    const fn = summary.functions.get(name) ?? { pkg, us: 0, callers: new Map<string, number>() };
    fn.us += us;
    if (caller) add(fn.callers, `${ownerPkg}: ${nameOf(caller)}`, us);
    summary.functions.set(name, fn);
  }
  return summary;
}

export interface Profiler {
  start(): Promise<void>;
  stop(): Promise<CpuProfile>;
  /** Writes the profile where BENCH_CPUPROFILE_DIR says, if it says; returns the path. */
  save(profile: CpuProfile, name: string): string | undefined;
}

/** Samples this process's JS thread every `intervalUs` once started. */
export async function openProfiler(intervalUs = 200): Promise<Profiler> {
  const session = new inspector.Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: intervalUs });
  return {
    start: () => post('Profiler.start'),
    stop: async () => {
      const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
      session.disconnect();
      return profile;
    },
    save: (profile, name) => {
      const dir = process.env.BENCH_CPUPROFILE_DIR;
      if (!dir) return undefined;
      const file = `${dir}/${name}.cpuprofile`;
      fs.writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}

const perReq = (us: number | undefined, s: ProfileSummary): string =>
  fmt((us ?? 0) / Math.max(1, s.requests), 1).padStart(8);
const pct = (us: number, s: ProfileSummary): string =>
  `${fmt((100 * us) / Math.max(1, s.busyUs), 1)}%`.padStart(6);

/** One row per package: self and charged µs per request for each column's profile. */
export function printPackages(columns: Array<{ label: string; summary: ProfileSummary }>, rows = 16): void {
  console.log(
    '  "self" = time in the package\'s own frames; "charged" = node internals and V8 builtins charged to the nearest calling package',
  );
  console.log(
    `  ${'package'.padEnd(26)}${columns.map(({ label }) => `${`${label} self µs/req`.padStart(22)} ${'%busy'.padStart(6)} ${'charged'.padStart(8)}`).join('')}`,
  );
  const first = columns[0].summary;
  const weight = (pkg: string): number => (first.attributed.get(pkg) ?? 0) + (first.self.get(pkg) ?? 0);
  const packages = [...new Set([...first.self.keys(), ...first.attributed.keys()])].sort(
    (a, b) => weight(b) - weight(a),
  );
  for (const pkg of packages.slice(0, rows)) {
    const cells = columns.map(
      ({ summary }) =>
        `${perReq(summary.self.get(pkg), summary).padStart(22)} ${pct(summary.self.get(pkg) ?? 0, summary)} ${perReq(summary.attributed.get(pkg), summary)}`,
    );
    console.log(`  ${pkg.padEnd(26)}${cells.join('')}`);
  }
}

/** The functions with the most self time, with the package that called into the runtime for them. */
export function printTopFunctions(label: string, summary: ProfileSummary, count = 20): void {
  console.log(
    `  ${label}: top self-time functions (µs per request, % of busy, package, function, main caller outside the runtime):`,
  );
  for (const [name, { pkg, us, callers }] of [...summary.functions]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, count)) {
    const caller = [...callers].sort((a, b) => b[1] - a[1])[0]?.[0];
    console.log(
      `  ${perReq(us, summary)} ${pct(us, summary)}  ${pkg.padEnd(22)} ${name}${caller ? `  <- ${caller}` : ''}`,
    );
  }
}
