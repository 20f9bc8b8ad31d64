/**
 * Runs every benchmark in turn, each in its own process, echoing its output, then prints one table.
 *
 *   npm run bench              every benchmark (builds first when the sources changed)
 *   npm run bench -- predict   only the ones named
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { RESULT_MARKER, fmt, type BenchResult } from './support';

const BENCHES = [
  'log-run-metrics',
  'trivial-query',
  'nested-query',
  'predict',
  'drift-check',
  'fanout',
  'logging-monitoring',
  'automations',
];

interface Outcome {
  name: string;
  code: number | null;
  seconds: number;
  result?: BenchResult;
}

function runOne(name: string): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, `${name}.js`)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let result: BenchResult | undefined;
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith(RESULT_MARKER))
          result = JSON.parse(line.slice(RESULT_MARKER.length)) as BenchResult;
        else process.stdout.write(`${line}\n`);
      }
    });
    child.on('close', (code) => {
      if (pending) process.stdout.write(`${pending}\n`);
      resolve({ name, code, seconds: (Date.now() - started) / 1000, result });
    });
  });
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !BENCHES.includes(name));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${BENCHES.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const outcomes: Outcome[] = [];
  for (const name of asked.length ? asked : BENCHES) {
    console.log(`\n>>> node dist/bench/${name}.js`);
    outcomes.push(await runOne(name));
  }
  const rows = outcomes.map(({ name, code, seconds, result }) => [
    name,
    result?.project ? `${fmt(result.project.value, 1)} ${result.project.unit}` : 'n/a',
    result ? `${fmt(result.baseline.value, 1)} ${result.baseline.unit} (${result.baseline.label})` : 'n/a',
    result?.ratio != null ? fmt(result.ratio, 3) : 'n/a',
    result?.aim ?? '',
    code === 0 ? `ok, ${fmt(seconds, 0)} s` : `FAILED (exit ${code})`,
  ]);
  const header = ['bench', 'project', 'baseline', 'ratio', 'aim', 'status'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join(' | ');
  console.log('\n== summary ==');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows) console.log(line(row));
  for (const { name, result } of outcomes) if (result?.note) console.log(`${name}: ${result.note}`);
  if (outcomes.some((o) => o.code !== 0)) process.exitCode = 1;
}

void main();
