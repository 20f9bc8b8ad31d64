/**
 * Alert fan-out: 1,000 graphql-ws subscribers of `alertRaised` on one hub, in a separate process (this
 * file, run with the argument `client`, forked with an IPC channel), and 50 alerts raised about 100 ms
 * apart with `hub.services.alerts.raise()`. Latency per subscriber per alert runs from the moment the
 * hub's event bus publishes the alert (taken by an in-process subscription registered first, so it
 * sees each event before any WebSocket subscriber) to the moment the subscriber's `next` runs, on one
 * clock: performance.timeOrigin + performance.now() in both processes (the skew between the two is
 * measured over IPC and printed). The time from the `raise()` call (its INSERT and re-read included)
 * is printed too. Baseline in the same run: a raw `ws` WebSocketServer in this process broadcasting
 * the same JSON text (one serialization per alert) to 1,000 raw `ws` clients in the same client
 * process, measured the same way. Both sets of sockets stay open throughout and the two sides take
 * turns in rounds (the machine's other load comes and goes); percentiles pool the rounds.
 *
 *   npm run build && node dist/bench/fanout.js
 *   BENCH_SUBSCRIBERS=2000 BENCH_ALERTS=100 BENCH_SPACING_MS=50 BENCH_PROFILE=0 node dist/bench/fanout.js
 *
 * After the measured hub phase, 20 more alerts go to the same subscribers under the V8 sampling
 * profiler (unmeasured), to show where the hub's main thread spends its time (BENCH_PROFILE=0: not).
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { subscribeTo } from '../src/events/domain';
import { AlertKind, AlertSeverity } from '../src/modules/alerts/alert.entity';
import { openProfiler, printPackages, printTopFunctions, summarize, type ProfileSummary } from './profile';
import {
  envInt,
  expectData,
  fmt,
  machineLine,
  printResult,
  quantile,
  runMain,
  startBenchHub,
  unique,
  verdict,
} from './support';

const ALERTS = `subscription($p: String!) {
  alertRaised(project: $p) { change alert { id projectId endpointId kind severity status title dedupeKey evidence occurrences openedAt lastSeenAt } }
}`;

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// ---------------------------------------------------------------------------------------------------
// The protocol between this process and the client process.

type Mode = 'graphql-ws' | 'raw';

type Command =
  | { cmd: 'clock' }
  | { cmd: 'open'; mode: Mode; url: string; key?: string; project?: string; subscribers: number }
  | { cmd: 'collect'; seqs: number[]; expected: number; timeoutMs: number }
  | { cmd: 'close' };

interface Collected {
  ev: 'collected';
  /** Per seq, every subscriber's receipt time. */
  receipts: Array<[number, number[]]>;
  errors: number;
  firstError?: string;
  /** Event-loop utilization of the client process since the previous collect (or open). */
  elu: number;
  /** One payload a graphql-ws subscriber received, for the baseline to send the same. */
  sample?: unknown;
  /** Bytes of one message, per mode (the graphql-ws one re-serialized with its envelope). */
  bytes: Record<Mode, number>;
}

type Reply =
  | { ev: 'clock'; at: number }
  | { ev: 'opened'; ms: number; failed: number; firstError?: string }
  | Collected
  | { ev: 'closed' };

interface RawMessage {
  payload: { data: { alertRaised: { alert: { evidence: { seq: unknown } } } } };
}

/** The client process: opens the subscribers, timestamps every event, reports on request. */
function clientMain(): void {
  const receipts = new Map<number, number[]>();
  const clients: Client[] = [];
  const sockets: WebSocket[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let sample: unknown;
  const bytes: Record<Mode, number> = { 'graphql-ws': 0, raw: 0 };
  let elu = performance.eventLoopUtilization();
  const reply = (message: Reply): void => void process.send!(message);
  const record = (seq: unknown, at: number): void => {
    if (typeof seq !== 'number') return;
    let times = receipts.get(seq);
    if (!times) receipts.set(seq, (times = []));
    times.push(at);
  };
  const fail = (error: unknown): void => {
    errors++;
    firstError ??= error instanceof Error ? error.message : JSON.stringify(error);
  };

  const rawSocket = (url: string): Promise<boolean> => {
    const socket = new WebSocket(url);
    sockets.push(socket);
    socket.on('message', (data: Buffer) => {
      const at = now();
      const text = data.toString('utf8');
      record((JSON.parse(text) as RawMessage).payload.data.alertRaised.alert.evidence.seq, at);
      bytes.raw ||= Buffer.byteLength(text);
    });
    socket.on('error', fail);
    return new Promise((resolve) => {
      socket.once('open', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
  };

  const subscriber = (command: Extract<Command, { cmd: 'open' }>): Promise<boolean> => {
    const client = createClient({
      url: command.url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${command.key}` },
      lazy: false,
      retryAttempts: 0,
    });
    clients.push(client);
    client.subscribe<{ alertRaised: { alert: { evidence: { seq: unknown } } } }>(
      { query: ALERTS, variables: { p: command.project } },
      {
        next: (result) => {
          const at = now();
          if (result.errors?.length) return fail(result.errors[0]);
          record(result.data?.alertRaised.alert.evidence.seq, at);
          if (!sample) {
            sample = result;
            bytes['graphql-ws'] = Buffer.byteLength(
              JSON.stringify({ id: randomUUID(), type: 'next', payload: result }),
            );
          }
        },
        error: fail,
        complete: () => undefined,
      },
    );
    return new Promise((resolve) => {
      client.on('connected', () => resolve(true));
      client.on('closed', () => resolve(false));
      client.on('error', () => resolve(false));
    });
  };

  const open = async (command: Extract<Command, { cmd: 'open' }>): Promise<void> => {
    const started = now();
    let failed = 0;
    // In batches, so the connection storm itself does not time out.
    for (let first = 0; first < command.subscribers; first += 100) {
      const batch = Math.min(command.subscribers, first + 100) - first;
      const opened = await Promise.all(
        Array.from({ length: batch }, () =>
          command.mode === 'raw' ? rawSocket(command.url) : subscriber(command),
        ),
      );
      failed += opened.filter((ok) => !ok).length;
    }
    elu = performance.eventLoopUtilization();
    reply({ ev: 'opened', ms: now() - started, failed, firstError });
  };

  const collect = async (command: Extract<Command, { cmd: 'collect' }>): Promise<void> => {
    const deadline = now() + command.timeoutMs;
    const short = (): boolean => command.seqs.some((s) => (receipts.get(s)?.length ?? 0) < command.expected);
    while (now() < deadline && short()) await sleep(10);
    const utilization = performance.eventLoopUtilization(elu).utilization;
    elu = performance.eventLoopUtilization();
    reply({
      ev: 'collected',
      receipts: command.seqs.map((s) => [s, receipts.get(s) ?? []]),
      errors,
      firstError,
      elu: utilization,
      sample,
      bytes,
    });
    for (const s of command.seqs) receipts.delete(s);
  };

  const close = async (): Promise<void> => {
    await Promise.all(clients.map((c) => c.dispose()));
    for (const s of sockets) s.close();
    reply({ ev: 'closed' });
  };

  process.on('message', (command: Command) => {
    const run =
      command.cmd === 'clock'
        ? Promise.resolve(reply({ ev: 'clock', at: now() }))
        : command.cmd === 'open'
          ? open(command)
          : command.cmd === 'collect'
            ? collect(command)
            : close();
    run.catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
}

/** This process's end of the channel: one command, one reply. */
class ClientProcess {
  private readonly child: ChildProcess;
  private pending: ((reply: Reply) => void) | undefined;

  constructor() {
    this.child = fork(__filename, ['client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (reply: Reply) => {
      const pending = this.pending;
      this.pending = undefined;
      pending?.(reply);
    });
  }

  ask<R extends Reply['ev']>(command: Command, ev: R): Promise<Extract<Reply, { ev: R }>> {
    return new Promise((resolve, reject) => {
      this.pending = (reply) =>
        reply.ev === ev
          ? resolve(reply as Extract<Reply, { ev: R }>)
          : reject(new Error(`unexpected ${reply.ev}`));
      this.child.send(command);
    });
  }

  /** Skew of the client's clock against this one: the round trip's midpoint, with its half-width as error. */
  async skew(): Promise<{ offsetMs: number; errorMs: number }> {
    let best = { offsetMs: 0, errorMs: Infinity };
    for (let i = 0; i < 20; i++) {
      const sent = now();
      const { at } = await this.ask({ cmd: 'clock' }, 'clock');
      const back = now();
      if ((back - sent) / 2 < best.errorMs)
        best = { offsetMs: at - (sent + back) / 2, errorMs: (back - sent) / 2 };
    }
    return best;
  }

  kill(): void {
    this.child.kill();
  }
}

// ---------------------------------------------------------------------------------------------------

/** One side's deliveries, pooled over its blocks. */
class Side {
  /** Send → receipt, per subscriber per alert, in ms. */
  readonly latencies: number[] = [];
  /** raise() call → receipt (hub only). */
  readonly fromRaise: number[] = [];
  /** Per alert: send → the last subscriber's receipt. */
  readonly lastPerAlert: number[] = [];
  /** p99 of each block, for the spread. */
  readonly blockP99: number[] = [];
  missing = 0;
  errors = 0;
  firstError?: string;
  private eluWeighted = { server: 0, client: 0, ms: 0 };

  constructor(
    readonly label: string,
    private readonly subscribers: number,
  ) {}

  add(
    collected: Collected,
    sentAt: Map<number, number>,
    raisedAt: Map<number, number> | undefined,
    serverElu: number,
    ms: number,
  ): void {
    const block: number[] = [];
    for (const [seq, times] of collected.receipts) {
      const sent = sentAt.get(seq);
      if (sent === undefined) throw new Error(`no send time for alert ${seq}`);
      for (const t of times) block.push(t - sent);
      const raised = raisedAt?.get(seq);
      if (raised !== undefined) for (const t of times) this.fromRaise.push(t - raised);
      if (times.length) this.lastPerAlert.push(Math.max(...times) - sent);
      this.missing += Math.max(0, this.subscribers - times.length);
    }
    this.latencies.push(...block);
    this.blockP99.push(quantile(block, 0.99));
    this.errors = collected.errors;
    this.firstError ??= collected.firstError;
    this.eluWeighted.server += serverElu * ms;
    this.eluWeighted.client += collected.elu * ms;
    this.eluWeighted.ms += ms;
  }

  describe(bytes: number): string {
    const q = (xs: number[], x: number): string => fmt(quantile(xs, x), 2);
    const { server, client, ms } = this.eluWeighted;
    return (
      `  ${this.label}: p50 ${q(this.latencies, 0.5)} ms, p90 ${q(this.latencies, 0.9)} ms, p99 ${q(this.latencies, 0.99)} ms (per round ${this.blockP99.map((x) => fmt(x, 1)).join(' / ')}), max ${q(this.latencies, 1)} ms over ${fmt(this.latencies.length)} deliveries;` +
      ` last subscriber per alert p50 ${q(this.lastPerAlert, 0.5)} ms, max ${q(this.lastPerAlert, 1)} ms; missing ${this.missing}, errors ${this.errors}${this.firstError ? ` (${this.firstError})` : ''};` +
      ` ~${fmt(bytes)} bytes per message; event-loop utilization: server ${fmt((100 * server) / Math.max(1, ms))}%, client process ${fmt((100 * client) / Math.max(1, ms))}%`
    );
  }
}

async function main(): Promise<void> {
  const subscribers = envInt('BENCH_SUBSCRIBERS', 1_000);
  const alerts = envInt('BENCH_ALERTS', 50);
  const rounds = envInt('BENCH_ROUNDS', 5);
  const warmup = envInt('BENCH_WARMUP_ALERTS', 5);
  const spacingMs = envInt('BENCH_SPACING_MS', 100);
  const withProfile = process.env.BENCH_PROFILE !== '0';
  console.log(
    `== fanout: alertRaised to ${fmt(subscribers)} graphql-ws subscribers vs a raw ws broadcast ==`,
  );
  console.log(machineLine());
  const env = await startBenchHub();
  const client = new ClientProcess();
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const listening = new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const bus = env.hub.services.events;
  const tap = subscribeTo(bus, 'alert.changed');
  try {
    console.log(`database: ${env.databaseLabel} (raise() writes the alert there before publishing)`);
    const project = expectData(
      await env.gql<{ createProject: { id: string; slug: string } }>(
        'mutation($input: CreateProjectInput!) { createProject(input: $input) { id slug } }',
        { input: { name: 'fanout bench', slug: unique('fanout') } },
      ),
      'createProject',
    ).createProject;
    const viewer = expectData(
      await env.gql<{ createApiKey: { secret: string } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
        { input: { name: unique('viewer'), role: 'VIEWER', projectIds: [project.id] } },
      ),
      'createApiKey',
    ).createApiKey;
    const skew = await client.skew();
    console.log(
      `clocks: client process minus this one ${fmt(skew.offsetMs, 3)} ms ± ${fmt(skew.errorMs, 3)} ms (IPC round trip midpoint); latencies are not corrected for it`,
    );

    // The hub's publish times, from a bus subscription made before any WebSocket subscriber's.
    const publishedAt = new Map<number, number>();
    void (async () => {
      for await (const message of tap) {
        const at = now();
        const seq = message.payload.alert.evidence.seq;
        if (typeof seq === 'number') publishedAt.set(seq, at);
      }
    })();
    const before = bus.subscribers;
    const opened = await client.ask(
      {
        cmd: 'open',
        mode: 'graphql-ws',
        url: env.hub.url.replace(/^http/, 'ws'),
        key: viewer.secret,
        project: project.slug,
        subscribers,
      },
      'opened',
    );
    if (opened.failed)
      throw new Error(`${opened.failed} subscribers failed to connect: ${opened.firstError}`);
    const deadline = Date.now() + 60_000;
    while (bus.subscribers < before + subscribers && Date.now() < deadline) await sleep(50);
    if (bus.subscribers < before + subscribers)
      throw new Error(`only ${bus.subscribers - before} of ${subscribers} subscriptions registered`);
    await listening;
    const rawUrl = `ws://127.0.0.1:${(server.address() as { port: number }).port}`;
    const rawOpened = await client.ask({ cmd: 'open', mode: 'raw', url: rawUrl, subscribers }, 'opened');
    if (rawOpened.failed) throw new Error(`${rawOpened.failed} raw clients failed to connect`);
    while (server.clients.size < subscribers) await sleep(20);
    console.log(
      `subscribers: ${fmt(subscribers)} graphql-ws clients (createClient, lazy: false, one socket each, VIEWER key scoped to the project, alertRaised(project) selecting change + 13 alert fields incl. evidence) opened in ${fmt(opened.ms)} ms; ${fmt(subscribers)} raw ws clients in ${fmt(rawOpened.ms)} ms; all in one forked Node process, ${os.cpus().length} CPUs shared with this one`,
    );
    console.log(
      `plan: ${warmup} unmeasured alerts per side, then ${rounds} rounds, each ${Math.ceil(alerts / rounds)} alerts per side ${spacingMs} ms apart (hub first in even rounds, raw first in odd), ${alerts} per side in all`,
    );

    const raisedAt = new Map<number, number>();
    const raiseMs: number[] = [];
    const raise = async (seq: number): Promise<void> => {
      const at = now();
      raisedAt.set(seq, at);
      await env.hub.services.alerts.raise({
        projectId: project.id,
        kind: AlertKind.ROLLOUT,
        severity: AlertSeverity.WARNING,
        dedupeKey: unique(`fanout-${seq}`),
        title: `fan-out ${seq}`,
        evidence: { seq, raisedAt: at, note: 'bench/fanout.ts' },
      });
      raiseMs.push(now() - at);
    };
    const paced = async (list: number[], send: (seq: number) => Promise<void>): Promise<void> => {
      for (const seq of list) {
        const started = now();
        await send(seq);
        await sleep(spacingMs - (now() - started));
      }
    };
    const block = async (
      list: number[],
      send: (seq: number) => Promise<void>,
    ): Promise<Collected & { serverElu: number; ms: number }> => {
      const elu = performance.eventLoopUtilization();
      const started = now();
      await paced(list, send);
      const collected = await client.ask(
        { cmd: 'collect', seqs: list, expected: subscribers, timeoutMs: 10_000 },
        'collected',
      );
      return {
        ...collected,
        serverElu: performance.eventLoopUtilization(elu).utilization,
        ms: now() - started,
      };
    };

    // Raw seqs live far above the hub's, so one receipt map serves both.
    const RAW = 1_000_000;
    const warm = await block(
      Array.from({ length: warmup }, (_, i) => -1 - i),
      raise,
    );
    const sample = warm.sample as
      { data: { alertRaised: { alert: { evidence: Record<string, unknown> } } } } | undefined;
    if (!sample) throw new Error('no subscriber received anything');
    const sentAt = new Map<number, number>();
    const id = randomUUID();
    const broadcast = async (seq: number): Promise<void> => {
      const at = now();
      sentAt.set(seq, at);
      const alert = sample.data.alertRaised.alert;
      const text = JSON.stringify({
        id,
        type: 'next',
        payload: {
          ...sample,
          data: {
            alertRaised: {
              ...sample.data.alertRaised,
              alert: { ...alert, evidence: { ...alert.evidence, seq, raisedAt: at } },
            },
          },
        },
      });
      for (const socket of server.clients) socket.send(text);
    };
    await block(
      Array.from({ length: warmup }, (_, i) => RAW - 1 - i),
      broadcast,
    );
    raiseMs.length = 0;
    const hub = new Side('hub (bus publish → subscriber next)', subscribers);
    const base = new Side('raw ws broadcast (send loop start → client message)', subscribers);
    let bytes = warm.bytes;
    const perRound = Math.ceil(alerts / rounds);
    for (let r = 0, next = 0; next < alerts; r++) {
      const list = Array.from({ length: Math.min(perRound, alerts - next) }, (_, i) => next + i);
      next += list.length;
      const runHub = async (): Promise<void> => {
        const b = await block(list, raise);
        hub.add(b, publishedAt, raisedAt, b.serverElu, b.ms);
      };
      const runRaw = async (): Promise<void> => {
        const b = await block(
          list.map((s) => RAW + s),
          broadcast,
        );
        base.add(b, sentAt, undefined, b.serverElu, b.ms);
        bytes = b.bytes;
      };
      if (r % 2 === 0) {
        await runHub();
        await runRaw();
      } else {
        await runRaw();
        await runHub();
      }
    }

    // Where the hub's time goes: the same load again, unmeasured, under the sampling profiler.
    let profile: ProfileSummary | undefined;
    const profiled = withProfile ? Array.from({ length: Math.min(alerts, 20) }, (_, i) => 2 * RAW + i) : [];
    if (profiled.length) {
      const profiler = await openProfiler();
      await profiler.start();
      await block(profiled, raise);
      const cpu = await profiler.stop();
      const file = profiler.save(cpu, 'fanout-hub');
      if (file) console.log(`  raw profile written to ${file}`);
      profile = summarize(cpu, profiled.length * subscribers);
    }
    await client.ask({ cmd: 'close' }, 'closed');

    console.log('');
    console.log(hub.describe(bytes['graphql-ws']));
    console.log(
      `  hub, from the raise() call: p50 ${fmt(quantile(hub.fromRaise, 0.5), 2)} ms, p99 ${fmt(quantile(hub.fromRaise, 0.99), 2)} ms (raise() itself, INSERT ... ON CONFLICT and the re-read: p50 ${fmt(quantile(raiseMs, 0.5), 2)} ms, max ${fmt(quantile(raiseMs, 1), 2)} ms)`,
    );
    console.log(base.describe(bytes.raw));
    if (profile) {
      console.log('');
      console.log(
        `where the hub's main thread spends its time delivering (V8 sampling profiler, 200 µs interval, ${profiled.length} more alerts to the same ${fmt(subscribers)} subscribers; "per request" = per delivery):`,
      );
      console.log(
        `  busy ${fmt(profile.busyUs / 1000)} ms, idle ${fmt(profile.idleUs / 1000)} ms = ${fmt(profile.busyUs / profile.requests, 1)} µs busy per delivery, ${fmt(profile.busyUs / 1000 / profiled.length, 1)} ms per alert`,
      );
      printPackages([{ label: 'hub', summary: profile }], 12);
      printTopFunctions('hub', profile, 25);
    }
    const hubP99 = quantile(hub.latencies, 0.99);
    const baseP99 = quantile(base.latencies, 0.99);
    const ok = hub.missing === 0 && hub.errors === 0;
    console.log('');
    console.log(
      `  aim: hub p99 < 100 ms with every alert delivered to every subscriber: ${fmt(hubP99, 2)} ms, ${hub.missing} missing: ${verdict(hubP99 < 100 && ok)}; p99 baseline/hub ${fmt(baseP99 / hubP99, 3)}; load average after ${os
        .loadavg()
        .map((x) => fmt(x, 2))
        .join(' ')}`,
    );
    printResult({
      bench: 'fanout',
      project: {
        label: `alertRaised p99 to ${fmt(subscribers)} graphql-ws subscribers`,
        value: hubP99,
        unit: 'ms p99',
      },
      baseline: { label: 'raw ws broadcast, same payload', value: baseP99, unit: 'ms p99' },
      ratio: baseP99 / hubP99,
      aim: 'hub p99 < 100 ms',
      note:
        `ratio is baseline/hub p99 latency (higher is better for the hub); p50 hub ${fmt(quantile(hub.latencies, 0.5), 1)} ms vs raw ${fmt(quantile(base.latencies, 0.5), 1)} ms;` +
        ` from raise() p99 ${fmt(quantile(hub.fromRaise, 0.99), 1)} ms; ${alerts} alerts x ${fmt(subscribers)} subscribers, ${hub.missing} missing` +
        (profile ? `; hub ${fmt(profile.busyUs / profile.requests, 0)} µs busy per delivery` : '') +
        (hub.errors ? `, ${hub.errors} errors` : ''),
    });
  } finally {
    await tap.return?.();
    client.kill();
    server.close();
    await env.close();
  }
}

if (process.argv[2] === 'client') clientMain();
else runMain(main);
