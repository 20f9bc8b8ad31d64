/**
 * A closed-loop HTTP load generator, run as its own process so it does not share the server's event
 * loop: N concurrent keep-alive requests (one in flight per connection), a warm-up that is not
 * counted, then a measured phase. Reads its job from argv[2] as JSON; prints one JSON line.
 * Not a benchmark itself: trivial-query spawns it.
 */
import http from 'node:http';

export interface LoadJob {
  url: string;
  body: string;
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
  p99Ms: number;
  firstError?: string;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const headers = {
    ...job.headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(job.body)),
  };
  let measuring = false;
  let stopped = false;
  let requests = 0;
  let errors = 0;
  let firstError: string | undefined;
  let checked = 0;
  const latencies: number[] = [];

  const once = (): Promise<void> =>
    new Promise((resolve) => {
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
      req.end(job.body);
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
  return { requests, errors, seconds, rps: requests / seconds, p50Ms: at(0.5), p99Ms: at(0.99), firstError };
}

if (require.main === module) {
  const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
  run(job)
    .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
