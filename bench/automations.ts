/**
 * Webhook-triggered routing, end to end: a Zendesk-style signed webhook for a new ticket reaches the hub
 * (POST /webhooks/connectors/<id>), the ticket is stored, `records.synced` starts an automation run, the
 * run predicts on an endpoint and writes the routing back with `updateTicket` to a vendor endpoint served
 * here. Measured from the webhook's first byte to the vendor receiving the write, beside the raw calls a
 * bot makes for the same ticket today (`predict`, then `runConnectorAction`, over GraphQL on the same
 * hub and vendor), in the same run:
 *
 *   1. latency, one ticket at a time (p50, p95);
 *   2. sustained: BENCH_TICKETS tickets sent by BENCH_SENDERS concurrent senders, tickets per second,
 *      and duplicate writes at the vendor (must be 0).
 *
 *   npm run build && node dist/bench/automations.js
 *   BENCH_LATENCY_TICKETS=50 BENCH_TICKETS=300 node dist/bench/automations.js
 *   DATABASE_URL=postgres://... node dist/bench/automations.js
 */
import 'reflect-metadata';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { exportLinearClassifier } from '../src/training/onnx-export';
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
  uploadArtifact,
  type BenchHub,
} from './support';

const LATENCY_TICKETS = envInt('BENCH_LATENCY_TICKETS', 200);
const TICKETS = envInt('BENCH_TICKETS', 1_000);
const SENDERS = envInt('BENCH_SENDERS', 16);
const ROUTING_FIELD = 360001;
const REQUEST_KEY_FIELD = 360002;

/** The vendor side: answers Zendesk's ticket update and records when each write arrived, and how often. */
class Vendor {
  readonly writes = new Map<number, number>();
  private readonly waiting = new Map<number, () => void>();
  private readonly server = http.createServer((req, res) => {
    const match = /^\/api\/v2\/tickets\/(\d+)\.json$/.exec(req.url ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'PUT' || !match) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"RecordNotFound"}');
        return;
      }
      const id = Number(match[1]);
      this.writes.set(id, (this.writes.get(id) ?? 0) + 1);
      const body = JSON.stringify({ ticket: { id, status: 'open', updated_at: new Date().toISOString() } });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      this.waiting.get(id)?.();
      this.waiting.delete(id);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves when the write for `id` arrives (at once if it already has). */
  written(id: number): Promise<void> {
    if (this.writes.has(id)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A Zendesk event-subscription webhook for a new ticket, signed as Zendesk signs (timestamp + body). */
function ticketCreated(id: number, secret: string): { headers: Record<string, string>; body: string } {
  const now = new Date();
  const iso = now.toISOString();
  const body = JSON.stringify({
    type: 'zen:event-type:ticket.created',
    account_id: 1,
    id: randomUUID(),
    time: iso,
    zendesk_event_version: '2022-11-06',
    subject: `zen:ticket:${id}`,
    detail: {
      id: String(id),
      subject: id % 3 === 0 ? `Refund for invoice ${id}` : `Cannot log in (${id})`,
      description: 'Sent by the automations bench',
      status: 'NEW',
      priority: id % 3 === 0 ? 'HIGH' : 'NORMAL',
      requester_id: '1',
      submitter_id: '1',
      assignee_id: null,
      group_id: null,
      tags: [],
      created_at: iso,
      updated_at: iso,
      via: { channel: 'email' },
    },
    event: {},
  });
  const timestamp = iso.replace(/\.\d{3}Z$/, 'Z');
  const signature = createHmac('sha256', secret)
    .update(timestamp + body)
    .digest('base64');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-zendesk-webhook-signature': signature,
      'x-zendesk-webhook-signature-timestamp': timestamp,
    },
  };
}

async function main(): Promise<void> {
  const env: BenchHub = await startBenchHub({ secretKey: randomBytes(32).toString('base64') });
  const vendor = new Vendor();
  const vendorUrl = await vendor.start();
  const base = env.hub.url.replace(/\/graphql$/, '');
  const webhookSecret = randomBytes(24).toString('base64');
  try {
    console.log(machineLine());
    console.log(`database: ${env.databaseLabel}`);
    const project = unique('auto');
    expectData(
      await env.gql('mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }', {
        i: { slug: project, name: 'Automations bench' },
      }),
      'createProject',
    );
    const model = unique('router');
    const { createModel } = expectData<{ createModel: { id: string } }>(
      await env.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
        i: { project, name: model, task: 'CLASSIFICATION' },
      }),
      'createModel',
    );
    const onnx = exportLinearClassifier({ inputs: 2, outputs: 2, weights: [0, 0, 0, 5], bias: [1, 0] });
    const sha = await uploadArtifact(env, onnx, project);
    expectData(
      await env.gql('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
        i: {
          modelId: createModel.id,
          artifactSha256: sha,
          featureNames: ['a', 'b'],
          labels: ['billing', 'tech'],
        },
      }),
      'registerModelVersion',
    );
    const endpoint = unique('route');
    expectData(
      await env.gql('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
        i: { project, name: endpoint, model, version: 1 },
      }),
      'createEndpoint',
    );
    const { createConnector } = expectData<{ createConnector: { id: string } }>(
      await env.gql('mutation($i: CreateConnectorInput!) { createConnector(input: $i) { id } }', {
        i: {
          project,
          name: unique('zendesk'),
          kind: 'zendesk',
          config: {
            baseUrl: vendorUrl,
            email: 'bench@example.com',
            routingFieldId: ROUTING_FIELD,
            requestKeyFieldId: REQUEST_KEY_FIELD,
          },
          secrets: { apiToken: 'bench-token-0123456789', webhookSecret },
        },
      }),
      'createConnector',
    );
    const connector = createConnector.id;
    const features = '{ "a": $length(record.subject), "b": $lowercase(record.priority) = "high" ? 1 : 0 }';
    expectData(
      await env.gql('mutation($i: CreateAutomationInput!) { createAutomation(input: $i) { id } }', {
        i: {
          project,
          name: 'route-tickets',
          trigger: { kind: 'EVENT', event: 'records.synced', connector, stream: 'tickets' },
          steps: [
            { name: 'score', kind: 'PREDICT', settings: { endpoint }, input: `{ "input": ${features} }` },
            {
              name: 'route',
              kind: 'CONNECTOR_ACTION',
              settings: { connector, action: 'updateTicket' },
              input:
                '{ "ticketId": $number(record.externalId), "routing": steps.score.label, "requestKey": steps.score.requestKey }',
            },
          ],
          maxConcurrentRuns: 32,
        },
      }),
      'createAutomation',
    );

    let next = 1;
    /** The automation's way: one webhook, then wait for the vendor's write. */
    const byWebhook = async (): Promise<number> => {
      const id = next++;
      const { headers, body } = ticketCreated(id, webhookSecret);
      const started = performance.now();
      const written = vendor.written(id);
      const res = await fetch(`${base}/webhooks/connectors/${connector}`, { method: 'POST', headers, body });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      await written;
      return performance.now() - started;
    };
    /** A bot's way today: predict, then runConnectorAction, each a GraphQL call. */
    const byBot = async (): Promise<number> => {
      const id = next++;
      const high = id % 3 === 0;
      const started = performance.now();
      const written = vendor.written(id);
      const { predict } = expectData<{ predict: { label: string; requestKey: string } }>(
        await env.gql(
          'mutation($e: String!, $i: JSONObject!, $k: String) { predict(endpoint: $e, input: $i, requestKey: $k) { label requestKey } }',
          { e: endpoint, i: { a: 20, b: high ? 1 : 0 }, k: String(id) },
        ),
        'predict',
      );
      expectData(
        await env.gql(
          'mutation($i: RunConnectorActionInput!) { runConnectorAction(input: $i) { externalId } }',
          {
            i: {
              connector,
              action: 'updateTicket',
              input: { ticketId: id, routing: predict.label, requestKey: predict.requestKey },
              idempotencyKey: `bot-${id}`,
            },
          },
        ),
        'runConnectorAction',
      );
      await written;
      return performance.now() - started;
    };

    // Warm both paths (sessions, plans, connections).
    for (let i = 0; i < 20; i++) {
      await byWebhook();
      await byBot();
    }
    const automated: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < LATENCY_TICKETS; i++) {
      automated.push(await byWebhook());
      raw.push(await byBot());
    }
    const p = (values: number[], q: number) => quantile(values, q);
    console.log('');
    console.log(`latency, one ticket at a time (${LATENCY_TICKETS} each, interleaved):`);
    console.log(
      `  webhook -> run -> vendor write    p50 ${fmt(p(automated, 0.5), 1)} ms  p95 ${fmt(p(automated, 0.95), 1)} ms`,
    );
    console.log(
      `  predict + runConnectorAction       p50 ${fmt(p(raw, 0.5), 1)} ms  p95 ${fmt(p(raw, 0.95), 1)} ms`,
    );

    const sustained = async (one: () => Promise<number>): Promise<number> => {
      let left = TICKETS;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          while (left-- > 0) await one();
        }),
      );
      return TICKETS / ((performance.now() - started) / 1000);
    };
    const automatedRate = await sustained(byWebhook);
    const rawRate = await sustained(byBot);
    const duplicates = [...vendor.writes.values()].reduce((sum, n) => sum + (n - 1), 0);
    console.log('');
    console.log(`sustained, ${TICKETS} tickets by ${SENDERS} concurrent senders:`);
    console.log(`  automations     ${fmt(automatedRate, 1)} tickets/s`);
    console.log(`  bot calls       ${fmt(rawRate, 1)} tickets/s`);
    console.log(`  duplicate vendor writes: ${duplicates} (of ${vendor.writes.size} tickets)`);
    if (duplicates !== 0) throw new Error(`${duplicates} duplicate writes reached the vendor`);

    const p95 = p(automated, 0.95);
    printResult({
      bench: 'automations',
      project: { label: 'webhook to vendor write, p95', value: p95, unit: 'ms' },
      baseline: { label: 'predict + runConnectorAction, p95', value: p(raw, 0.95), unit: 'ms' },
      ratio: p(raw, 0.95) / p95,
      aim: 'p95 < 500 ms',
      note: `${p95 < 500 ? 'met' : 'MISSED'}; sustained ${fmt(automatedRate, 1)} vs ${fmt(rawRate, 1)} tickets/s, ${duplicates} duplicates`,
    });
  } finally {
    await vendor.close();
    await env.close();
  }
}

runMain(main);
