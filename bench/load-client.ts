/**
 * A closed-loop HTTP load generator, run as its own process so it does not share the server's event
 * loop: N concurrent keep-alive requests (one in flight per connection), a warm-up that is not
 * counted, then a measured phase. Reads its job from argv[2] as JSON (or from stdin when argv[2] is `-`);
 * prints one JSON line.
 * A body may carry `{{n}}` placeholders: each request replaces every one of them with its own sequence
 * number (warm-up included), so a server that dedupes on a request key sees a distinct key every time.
 * Not a benchmark itself: trivial-query and predict spawn it.
 */
import http from 'node:http';

/** Replaced in a body by each request's sequence number (0, 1, 2, ... across the whole job). */
export const SEQUENCE_PLACEHOLDER = '{{n}}';

export interface LoadJob {
  url: string;
  body: string;
  /** When given, requests take these bodies in turn instead of `body`. */
  bodies?: string[];
  headers: Record<string, string>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** A substring every 200 response must contain, checked on a sample. */
  expect: string;
  /** Print `measuring` and `done` lines as the measured phase starts and ends, for a profiler to follow. */
  signal?: boolean;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  /** Always reported by the client; optional so results assembled elsewhere need not invent one. */
  p95Ms?: number;
  p99Ms: number;
  firstError?: string;
}

/** A body split at its placeholders once, so each request only joins strings. */
interface Template {
  parts: string[];
  /** The request headers, built once when the body has no placeholder (its length never changes). */
  fixed?: Record<string, string>;
}

const requestHeaders = (job: LoadJob, body: string): Record<string, string> => ({
  ...job.headers,
  'content-type': 'application/json',
  'content-length': String(Buffer.byteLength(body)),
});

function template(job: LoadJob, body: string): Template {
  const parts = body.split(SEQUENCE_PLACEHOLDER);
  return parts.length === 1 ? { parts, fixed: requestHeaders(job, body) } : { parts };
}

async function run(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const templates = (job.bodies?.length ? job.bodies : [job.body]).map((body) => template(job, body));
  let sequence = 0;
  let measuring = false;
  let stopped = false;
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;
  let checked = 0;
  const latencies: number[] = [];

  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const n = sequence++;
      const { parts, fixed } = templates[n % templates.length];
      const body = fixed ? parts[0] : parts.join(String(n));
      const headers = fixed ?? requestHeaders(job, body);
      const start = process.hrtime.bigint();
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            let ok = res.statusCode === 200;
            if (ok && checked < 50) {
              checked++;
              const text = Buffer.concat(chunks).toString('utf8');
              ok = text.includes(job.expect) && !text.includes('"errors"');
              if (!ok) firstError ??= `unexpected body: ${text.slice(0, 300)}`;
            } else if (!ok) {
              firstError ??= `HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`;
            }
            if (measuring) {
              if (ok) {
                requests++;
                latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
              } else {
                errors++;
              }
            }
            resolve();
          });
        },
      );
      req.on('error', (error) => {
        firstError ??= error.message;
        if (measuring) errors++;
        resolve();
      });
      req.end(body);
    });

  const loop = async (): Promise<void> => {
    while (!stopped) await once();
  };
  const loops = Array.from({ length: job.concurrency }, () => loop());
  await new Promise((resolve) => setTimeout(resolve, job.warmupMs));
  measuring = true;
  if (job.signal) process.stdout.write('measuring\n');
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, job.durationMs));
  measuring = false;
  if (job.signal) process.stdout.write('done\n');
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stopped = true;
  await Promise.all(loops);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    requests,
    errors,
    seconds,
    rps: requests / seconds,
    p50Ms: at(0.5),
    p95Ms: at(0.95),
    p99Ms: at(0.99),
    firstError,
  };
}

/** The job: argv[2] as JSON, or, when argv[2] is `-`, JSON on stdin (bodies too large for an argument). */
async function readJob(): Promise<LoadJob> {
  const arg = process.argv[2] ?? '{}';
  if (arg !== '-') return JSON.parse(arg) as LoadJob;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadJob;
}

if (require.main === module) {
  readJob()
    .then(run)
    .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
