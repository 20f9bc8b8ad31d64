import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { mulberry32 } from '../../src/common/random';
import { recordSecret } from '../support/run-record';
import { FaultInjector } from './faults';
import { closeServer, listenOnLoopback } from './loopback';
import { postWebhook, spoil } from './vendor-webhook';
import type { WebhookKnobs, WebhookSent } from './vendor-webhook';

/** How the fake is seeded and who may call it. */
export interface FakeUiPathOptions {
  /** Jobs in the connector's folder. Default 2,000. */
  jobs?: number;
  /** Queue items in the connector's folder. Default 3,000. */
  queueItems?: number;
  /** The folder (OrganizationUnitId) the seeded data lives in. Default 7. */
  folderId?: number;
  /** A second folder holding a few records that must never leak into the first. Default 8. */
  otherFolderId?: number;
  clientId?: string;
  clientSecret?: string;
  /** Scopes the external application was granted. Default OR.Jobs OR.Queues. */
  grantedScopes?: string[];
  /** `expires_in` of issued tokens, in seconds. Default 3,600. */
  tokenTtlSeconds?: number;
  /** Seeds the generated data. Default 1. */
  seed?: number;
}

/** An event about one of the fake's jobs or queue items, to send to a webhook as Orchestrator does. */
export interface UiPathWebhookEvent extends WebhookKnobs {
  /** `job.created`, `job.started`, `job.completed`, `job.faulted`, `job.stopped`, `queueItem.added`, `queueItem.transactionCompleted`, … */
  type: string;
  /** The job's Id for job events, the queue item's for queue item events. */
  id: number;
}

/** One request as the fake saw it (never the token). */
export interface FakeUiPathRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  folder: string | undefined;
}

type Row = Record<string, unknown> & { Id: number; OrganizationUnitId: number };

interface QueueDefinition {
  Id: number;
  Name: string;
  EnforceUniqueReference: boolean;
  OrganizationUnitId: number;
}

const JOB_STATES = ['Pending', 'Running', 'Successful', 'Faulted', 'Stopped', 'Suspended'];
const ITEM_STATUSES = ['New', 'InProgress', 'Successful', 'Failed', 'Abandoned', 'Retried'];
const PRIORITIES = ['Low', 'Normal', 'High'];
const RELEASES = ['Invoices_Main', 'Claims_Dispatcher', 'Claims_Performer', 'KYC_Check'];
const ROBOTS = [
  { Id: 101, Name: 'robot-a' },
  { Id: 102, Name: 'robot-b' },
  { Id: 103, Name: 'robot-c' },
];
/** Seeded times start here; mutations are stamped after all of them. */
const BASE_MS = Date.UTC(2024, 0, 1);
const MAX_TOP = 1000;

/**
 * UiPath Orchestrator on 127.0.0.1, speaking its wire format: an identity server issuing client-credentials
 * tokens (`/identity_/connect/token`), and the OData endpoints the connector reads and writes —
 * `/odata/Jobs`, `/odata/QueueItems`, `/odata/QueueDefinitions` with a small real `$filter` parser,
 * `$orderby`, `$top` (capped at 1,000), `$skip`, `$count`, `$expand=Robot`, folder scoping by the
 * `X-UIPATH-OrganizationUnitId` header, and `Queues/UiPathODataSvc.AddQueueItem` with unique references.
 *
 * Like Orchestrator (an ABP application), `LastModificationTime` is null until a record is first modified,
 * and times carry 100 ns precision (seven fractional digits), so a client that rounds them to
 * milliseconds pages wrongly. Records are seeded in bursts sharing one `LastModificationTime`, so page
 * boundaries fall inside ties.
 */
export class FakeUiPathServer {
  /** Consulted on every Orchestrator (OData) request. */
  readonly faults = new FaultInjector();
  /** Consulted on every token request. */
  readonly tokenFaults = new FaultInjector();
  /** Every request, in order. */
  readonly requests: FakeUiPathRequest[] = [];
  /** Tokens issued so far. */
  tokensIssued = 0;
  /** Orchestrator requests answered 401 (no token, or an expired or revoked one). */
  unauthenticated = 0;
  /** The next this-many AddQueueItem requests store the item, then drop the connection before replying. */
  loseAddQueueItemReplies = 0;
  /** Responses then rename, drop and add fields (and InputArguments stops being JSON), as a new Orchestrator version might. */
  schemaChange = false;
  /** `expires_in` of tokens issued from now on. */
  tokenTtlSeconds: number;
  /**
   * Server-driven paging: at most this many rows per page whatever `$top` asks, with `@odata.nextLink`
   * while more remain (Orchestrator caps pages at 1,000; a proxy or a newer version may cap lower).
   */
  maxTop = MAX_TOP;
  /**
   * AddQueueItem waits this long before it looks at the queue (a busy Orchestrator), so concurrent adds
   * of one reference to a queue without unique references all land.
   */
  addQueueItemDelayMs = 0;

  readonly folderId: number;
  readonly otherFolderId: number;
  private readonly clientId: string;
  private readonly clientSecret: string;
  private readonly grantedScopes: string[];
  private readonly server: http.Server;
  private readonly hung = new Set<http.ServerResponse>();
  private readonly tokens = new Map<string, { expiresAt: number; scopes: string[] }>();
  private readonly jobs = new Map<number, Row>();
  private readonly items = new Map<number, Row>();
  private readonly queues: QueueDefinition[];
  private nextJobId = 1;
  private nextItemId = 1;
  /** The fake's clock for mutations, in 100 ns ticks past BASE_MS; only moves forward. */
  private clockTicks: bigint;
  private readonly random: () => number;
  private address?: string;

  constructor(options: FakeUiPathOptions = {}) {
    this.folderId = options.folderId ?? 7;
    this.otherFolderId = options.otherFolderId ?? 8;
    this.clientId = options.clientId ?? 'nerve-app';
    this.clientSecret = options.clientSecret ?? 'fake-client-secret-1234';
    // The hub holds it as a connector credential, and the access tokens issued for it: the suite's
    // secret scan looks for them.
    recordSecret('UiPath client secret', this.clientSecret);
    this.grantedScopes = options.grantedScopes ?? ['OR.Jobs', 'OR.Queues'];
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.random = mulberry32(options.seed ?? 1);
    this.queues = [
      { Id: 11, Name: 'Invoices', EnforceUniqueReference: true, OrganizationUnitId: this.folderId },
      { Id: 12, Name: 'Claims', EnforceUniqueReference: false, OrganizationUnitId: this.folderId },
      { Id: 13, Name: 'Elsewhere', EnforceUniqueReference: true, OrganizationUnitId: this.otherFolderId },
    ];
    const jobs = options.jobs ?? 2000;
    const items = options.queueItems ?? 3000;
    // Seeded times: bursts of 4 records share one time; ~10% were never modified (null).
    for (let i = 0; i < jobs; i++) this.seedJob(i, this.folderId);
    for (let i = 0; i < items; i++) this.seedItem(i, this.folderId);
    for (let i = 0; i < 25; i++) this.seedJob(jobs + i, this.otherFolderId);
    for (let i = 0; i < 25; i++) this.seedItem(items + i, this.otherFolderId);
    const seededSpan = BigInt(Math.max(jobs, items) + 100) * 10_000n * 1000n;
    this.clockTicks = seededSpan + 10_000_000n;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on an ephemeral port of 127.0.0.1. */
  async start(): Promise<{ orchestratorUrl: string; identityUrl: string }> {
    const base = await listenOnLoopback(this.server);
    this.address = base;
    return {
      orchestratorUrl: `${this.address}/nerve/DefaultTenant/orchestrator_`,
      identityUrl: `${this.address}/nerve/identity_`,
    };
  }

  /** Stops listening and destroys every socket, hung responses included. */
  async close(): Promise<void> {
    await closeServer(this.server, this.hung);
  }

  /** Every token issued so far answers 401 from now on, as after a key rotation or expiry. */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** The jobs or queue items of the connector's folder, as Orchestrator holds them now (copies). */
  snapshot(stream: 'jobs' | 'queueItems'): Row[] {
    const table = stream === 'jobs' ? this.jobs : this.items;
    return [...table.values()].filter((r) => r.OrganizationUnitId === this.folderId).map((r) => ({ ...r }));
  }

  /** Queue items of a queue with a reference, in any folder. */
  itemsWithReference(queueName: string, reference: string): Row[] {
    const queue = this.queues.find((q) => q.Name === queueName);
    return [...this.items.values()].filter(
      (r) => r.QueueDefinitionId === queue?.Id && r.Reference === reference,
    );
  }

  /** Modifies jobs in one transaction: they all get the same new LastModificationTime (a tie). */
  modifyJobs(ids: number[], patch: (job: Row) => Record<string, unknown> = () => ({})): void {
    const at = this.tick();
    for (const id of ids) {
      const job = this.jobs.get(id);
      if (!job) throw new Error(`fake UiPath: no job ${id}`);
      Object.assign(job, { State: 'Successful' }, patch(job), { LastModificationTime: at });
    }
  }

  /** Modifies queue items in one transaction (one shared LastModificationTime). */
  modifyQueueItems(ids: number[], patch: (item: Row) => Record<string, unknown> = () => ({})): void {
    const at = this.tick();
    for (const id of ids) {
      const item = this.items.get(id);
      if (!item) throw new Error(`fake UiPath: no queue item ${id}`);
      Object.assign(item, { Status: 'Successful' }, patch(item), { LastModificationTime: at });
    }
  }

  /** Adds a job to the connector's folder, never modified yet (LastModificationTime null). */
  addJob(fields: Record<string, unknown> = {}): Row {
    const id = this.nextJobId++;
    const job: Row = {
      ...this.jobShape(id, this.folderId, this.tick(), null),
      State: 'Pending',
      StartTime: null,
      EndTime: null,
      ...fields,
      Id: id,
      OrganizationUnitId: this.folderId,
    };
    this.jobs.set(id, job);
    return { ...job };
  }

  /** Ids of seeded jobs or queue items of the connector's folder, ascending. */
  ids(stream: 'jobs' | 'queueItems'): number[] {
    return this.snapshot(stream)
      .map((r) => r.Id)
      .sort((a, b) => a - b);
  }

  /**
   * Sends an event about a job or queue item, as it is now, to a webhook URL the way Orchestrator does:
   * `{Type, EventId, Timestamp, Job | Jobs, TenantId, OrganizationUnitId, FolderId}` or `{…, QueueItem |
   * QueueItems, Queue}`, the objects in the slimmer shape of webhook events (no LastModificationTime;
   * jobs past `job.created` without ReleaseName and InputArguments), signed as
   * `base64(HMAC-SHA256(secret, body))` in `X-UiPath-Signature`.
   */
  async sendWebhook(url: string, secret: string, event: UiPathWebhookEvent): Promise<WebhookSent> {
    // The hub holds it as a connector secret: the suite's secret scan looks for it.
    recordSecret('UiPath webhook secret', secret);
    const at = event.at ?? new Date();
    const eventId = randomBytes(16).toString('hex');
    const payload: Record<string, unknown> = {
      Type: event.type,
      EventId: eventId,
      Timestamp: `${at.toISOString().slice(0, 23)}0000Z`,
    };
    if (event.type.startsWith('job.')) {
      const job = this.jobs.get(event.id);
      if (!job) throw new Error(`fake UiPath: no job ${event.id}`);
      const several = event.type === 'job.created' || event.type === 'job.stopped';
      payload[several ? 'Jobs' : 'Job'] = several ? [eventJob(job, event.type)] : eventJob(job, event.type);
      Object.assign(payload, {
        TenantId: 1,
        OrganizationUnitId: job.OrganizationUnitId,
        FolderId: job.OrganizationUnitId,
      });
    } else if (event.type.startsWith('queueItem.')) {
      const item = this.items.get(event.id);
      if (!item) throw new Error(`fake UiPath: no queue item ${event.id}`);
      const queue = this.queues.find((q) => q.Id === item.QueueDefinitionId);
      const wire = eventItem(item);
      if (event.type === 'queueItem.added') payload.QueueItems = [wire];
      else payload.QueueItem = wire;
      payload.Queue = queue && {
        Id: queue.Id,
        Name: queue.Name,
        Description: '',
        MaxNumberOfRetries: 0,
        AcceptAutomaticallyRetry: false,
        EnforceUniqueReference: queue.EnforceUniqueReference,
      };
      Object.assign(payload, { TenantId: 1, FolderId: item.OrganizationUnitId, UserId: 4947 });
    } else {
      throw new Error(`fake UiPath: it sends no ${event.type} events`);
    }
    const body = JSON.stringify(payload);
    const signature = createHmac('sha256', secret).update(body).digest('base64');
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'x-uipath-signature': event.badSignature ? spoil(signature) : signature,
    };
    return postWebhook(url, headers, body, [eventId], event.times);
  }

  // ---------------------------------------------------------------------------------------------
  // Seeding

  private seedTime(i: number): string | null {
    if (this.random() < 0.1) return null;
    const burst = Math.floor(i / 4);
    // Seven fractional digits, the last four below a millisecond.
    return formatTicks(BigInt(burst + 1) * 10_000_000n + BigInt(burst % 9_999) + 1n);
  }

  private seedJob(i: number, folder: number): void {
    const id = this.nextJobId++;
    const created = formatTicks(BigInt(i) * 2_500_000n);
    const modified = this.seedTime(i);
    this.jobs.set(id, this.jobShape(id, folder, created, modified));
  }

  private jobShape(id: number, folder: number, created: string, modified: string | null): Row {
    const r = this.random;
    const state = modified === null ? 'Pending' : JOB_STATES[Math.floor(r() * JOB_STATES.length)];
    const input: Record<string, unknown> = { InvoiceId: `INV-${id}` };
    if (r() < 0.5) input.NerveRequestKey = `req-job-${id}`;
    return {
      Key: uuidFrom(r),
      StartTime: state === 'Pending' ? null : created,
      EndTime: ['Successful', 'Faulted', 'Stopped'].includes(state) ? (modified ?? created) : null,
      State: state,
      JobPriority: PRIORITIES[Math.floor(r() * PRIORITIES.length)],
      Source: 'Manual',
      SourceType: 'Manual',
      BatchExecutionKey: uuidFrom(r),
      Info: state === 'Faulted' ? 'Job faulted' : null,
      CreationTime: created,
      StartingScheduleId: null,
      ReleaseName: RELEASES[Math.floor(r() * RELEASES.length)],
      Type: 'Unattended',
      InputArguments: JSON.stringify(input),
      OutputArguments: null,
      HostMachineName: 'vm-01',
      LastModificationTime: modified,
      OrganizationUnitId: folder,
      RobotRef: ROBOTS[Math.floor(r() * ROBOTS.length)],
      Id: id,
    };
  }

  private seedItem(i: number, folder: number): void {
    const id = this.nextItemId++;
    const created = formatTicks(BigInt(i) * 2_500_000n);
    const modified = this.seedTime(i);
    const r = this.random;
    const status = modified === null ? 'New' : ITEM_STATUSES[Math.floor(r() * ITEM_STATUSES.length)];
    const content: Record<string, unknown> = { Amount: Math.round(r() * 10_000) / 100 };
    if (r() < 0.5) content.NerveRequestKey = `req-item-${id}`;
    const queue = folder === this.folderId ? this.queues[i % 2] : this.queues[2];
    this.items.set(id, {
      QueueDefinitionId: queue.Id,
      Status: status,
      ReviewStatus: 'None',
      Key: uuidFrom(r),
      Reference: `seed-${id}`,
      ProcessingExceptionType: null,
      DueDate: null,
      RiskSlaDate: null,
      Priority: PRIORITIES[Math.floor(r() * PRIORITIES.length)],
      DeferDate: null,
      StartProcessing: status === 'New' ? null : created,
      EndProcessing: ['Successful', 'Failed', 'Abandoned'].includes(status) ? (modified ?? created) : null,
      SecondsInPreviousAttempts: 0,
      AncestorId: null,
      RetryNumber: 0,
      SpecificContent: content,
      CreationTime: created,
      Progress: null,
      RowVersion: 'AAAAAAAB',
      OrganizationUnitId: folder,
      OrganizationUnitFullyQualifiedName: folder === this.folderId ? 'Finance' : 'Other',
      LastModificationTime: modified,
      Id: id,
    });
  }

  /** A new LastModificationTime later than every earlier one, with sub-millisecond digits. */
  private tick(): string {
    this.clockTicks += 10_000n + BigInt(Math.floor(this.random() * 9_999)) + 1n;
    return formatTicks(this.clockTicks);
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const folder = header(req, 'x-uipath-organizationunitid');
    this.requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      folder,
    });
    const body = await readBody(req);
    try {
      if (url.pathname.endsWith('/identity_/connect/token')) {
        if (this.tokenFaults.apply(res, this.hung)) return;
        if (method !== 'POST') return send(res, 405, { error: 'invalid_request' });
        return this.token(body, res);
      }
      const at = url.pathname.indexOf('/orchestrator_/');
      if (at < 0) return send(res, 404, { message: 'Not Found', errorCode: 0 });
      const route = url.pathname.slice(at + '/orchestrator_'.length);
      if (this.faults.apply(res, this.hung)) return;
      const scopes = this.authenticate(req);
      if (!scopes) {
        this.unauthenticated++;
        return send(res, 401, { message: 'You are not authenticated!', errorCode: 0, traceId: trace() });
      }
      if (folder === undefined || folder === '')
        return send(res, 400, {
          message: 'An organization unit is required for this action.',
          errorCode: 1101,
          traceId: trace(),
        });
      const folderId = Number(folder);
      if (!Number.isInteger(folderId) || ![this.folderId, this.otherFolderId].includes(folderId))
        return send(res, 400, {
          message: 'Folder does not exist or the user does not have access to the folder.',
          errorCode: 1100,
          traceId: trace(),
        });
      const needs = (prefix: string): boolean => scopes.some((s) => s === prefix || s === `${prefix}.Read`);
      if (method === 'GET' && route === '/odata/Jobs') {
        if (!needs('OR.Jobs')) return send(res, 403, { message: 'You are not authorized!', errorCode: 0 });
        return send(res, 200, this.query('Jobs', this.jobs, folderId, url.searchParams));
      }
      if (method === 'GET' && route === '/odata/QueueItems') {
        if (!needs('OR.Queues')) return send(res, 403, { message: 'You are not authorized!', errorCode: 0 });
        return send(res, 200, this.query('QueueItems', this.items, folderId, url.searchParams));
      }
      if (method === 'GET' && route === '/odata/QueueDefinitions') {
        if (!needs('OR.Queues')) return send(res, 403, { message: 'You are not authorized!', errorCode: 0 });
        const table = new Map(this.queues.map((q) => [q.Id, { ...q } as unknown as Row]));
        return send(res, 200, this.query('QueueDefinitions', table, folderId, url.searchParams));
      }
      if (method === 'POST' && route === '/odata/Queues/UiPathODataSvc.AddQueueItem') {
        if (!scopes.includes('OR.Queues'))
          return send(res, 403, { message: 'You are not authorized!', errorCode: 0 });
        if (this.addQueueItemDelayMs > 0) await delay(this.addQueueItemDelayMs);
        return this.addQueueItem(folderId, body, res);
      }
      return send(res, 404, { message: `No route for ${method} ${route}`, errorCode: 0 });
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof ODataError)
        return send(res, 400, { message: error.message, errorCode: 1000, traceId: trace() });
      send(res, 500, { message: 'An error has occurred.', errorCode: 0 });
    }
  }

  private token(body: string, res: http.ServerResponse): void {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials')
      return send(res, 400, { error: 'unsupported_grant_type' });
    if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret)
      return send(res, 400, { error: 'invalid_client' });
    const asked = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (asked.length === 0 || asked.some((s) => !this.grantedScopes.includes(s)))
      return send(res, 400, { error: 'invalid_scope' });
    const token = randomBytes(24).toString('hex');
    this.tokens.set(token, { expiresAt: Date.now() + this.tokenTtlSeconds * 1000, scopes: asked });
    this.tokensIssued++;
    recordSecret('UiPath access token', token);
    send(res, 200, {
      access_token: token,
      expires_in: this.tokenTtlSeconds,
      token_type: 'Bearer',
      scope: asked.join(' '),
    });
  }

  private authenticate(req: http.IncomingMessage): string[] | undefined {
    const auth = header(req, 'authorization') ?? '';
    const match = /^Bearer (\S+)$/.exec(auth);
    const held = match ? this.tokens.get(match[1]) : undefined;
    if (!held || held.expiresAt <= Date.now()) return undefined;
    return held.scopes;
  }

  private query(entity: string, table: Map<number, Row>, folder: number, params: URLSearchParams): unknown {
    let rows = [...table.values()].filter((r) => r.OrganizationUnitId === folder);
    const filter = params.get('$filter');
    if (filter) {
      const predicate = parseFilter(filter);
      rows = rows.filter((r) => truthy(evaluate(predicate, r)));
    }
    const orderby = params.get('$orderby');
    if (orderby) rows.sort(comparator(orderby));
    const count = rows.length;
    const skip = intParam(params, '$skip') ?? 0;
    const top = Math.min(intParam(params, '$top') ?? MAX_TOP, MAX_TOP, this.maxTop);
    const expand = (params.get('$expand') ?? '').split(',').map((s) => s.trim());
    const page = rows.slice(skip, skip + top).map((r) => this.present(entity, r, expand));
    const next = new URLSearchParams(params);
    next.set('$skip', String(skip + page.length));
    const capped = skip + page.length < count && page.length < (intParam(params, '$top') ?? MAX_TOP);
    return {
      '@odata.context': `${this.address}/odata/$metadata#${entity}`,
      ...(params.get('$count') === 'true' ? { '@odata.count': count } : {}),
      value: page,
      ...(capped
        ? {
            '@odata.nextLink': `${this.address}/nerve/DefaultTenant/orchestrator_/odata/${entity}?${next.toString()}`,
          }
        : {}),
    };
  }

  /** A row as Orchestrator sends it. */
  private present(entity: string, row: Row, expand: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = { ...row };
    if (entity === 'Jobs') {
      delete out.RobotRef;
      if (expand.includes('Robot')) out.Robot = row.RobotRef ?? null;
    }
    if (this.schemaChange && entity !== 'QueueDefinitions') {
      // Renamed, dropped and new fields; a free-text InputArguments.
      if ('ReleaseName' in out) {
        out.ProcessName = out.ReleaseName;
        delete out.ReleaseName;
      }
      delete out.Robot;
      delete out.Priority;
      delete out.StartProcessing;
      if (entity === 'Jobs') out.InputArguments = 'not json {';
      if (entity === 'QueueItems') out.SpecificContent = null;
      out.AutopilotInsights = { score: 0.5 };
      out.CreationTime = 'not a date';
    }
    return out;
  }

  private addQueueItem(folder: number, body: string, res: http.ServerResponse): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return send(res, 400, { message: 'itemData is required.', errorCode: 1000 });
    }
    const data = (parsed as { itemData?: Record<string, unknown> } | null)?.itemData;
    if (!data || typeof data.Name !== 'string')
      return send(res, 400, { message: 'itemData.Name is required.', errorCode: 1000 });
    const queue = this.queues.find(
      (q) => q.Name.toLowerCase() === (data.Name as string).toLowerCase() && q.OrganizationUnitId === folder,
    );
    if (!queue)
      return send(res, 404, { message: 'Queue does not exist.', errorCode: 1002, traceId: trace() });
    const reference = typeof data.Reference === 'string' ? data.Reference : null;
    if (
      reference !== null &&
      queue.EnforceUniqueReference &&
      [...this.items.values()].some((r) => r.QueueDefinitionId === queue.Id && r.Reference === reference)
    )
      return send(res, 409, {
        message: 'Error creating Transaction. Duplicate Reference.',
        errorCode: 1016,
        traceId: trace(),
      });
    const priority = typeof data.Priority === 'string' ? data.Priority : 'Normal';
    if (!PRIORITIES.includes(priority))
      return send(res, 400, { message: `Invalid priority ${priority}.`, errorCode: 1000 });
    const id = this.nextItemId++;
    const item: Row = {
      QueueDefinitionId: queue.Id,
      Status: 'New',
      ReviewStatus: 'None',
      Key: uuidFrom(this.random),
      Reference: reference,
      ProcessingExceptionType: null,
      DueDate: null,
      RiskSlaDate: null,
      Priority: priority,
      DeferDate: null,
      StartProcessing: null,
      EndProcessing: null,
      SecondsInPreviousAttempts: 0,
      AncestorId: null,
      RetryNumber: 0,
      SpecificContent: (data.SpecificContent as Record<string, unknown> | undefined) ?? {},
      CreationTime: this.tick(),
      Progress: null,
      RowVersion: 'AAAAAAAB',
      OrganizationUnitId: folder,
      OrganizationUnitFullyQualifiedName: 'Finance',
      LastModificationTime: null,
      Id: id,
    };
    this.items.set(id, item);
    if (this.loseAddQueueItemReplies > 0) {
      this.loseAddQueueItemReplies--;
      res.socket?.destroy();
      return;
    }
    send(res, 201, { '@odata.context': `${this.address}/odata/$metadata#QueueItems/$entity`, ...item });
  }
}

// -------------------------------------------------------------------------------------------------
// Webhook events carry slimmer objects than the OData API.

/** A job as job events carry it: `job.created` with its release name and arguments, later ones without. */
function eventJob(job: Row, type: string): Record<string, unknown> {
  const robot = job.RobotRef as { Id: number; Name: string } | undefined;
  const base = {
    Id: job.Id,
    Key: job.Key,
    State: job.State,
    Robot: robot ? { Id: robot.Id, Name: robot.Name, MachineName: job.HostMachineName } : null,
    Release: { ProcessKey: job.ReleaseName },
  };
  if (type === 'job.created')
    return {
      ...base,
      Source: job.Source,
      SourceType: job.SourceType,
      BatchExecutionKey: job.BatchExecutionKey,
      ReleaseName: job.ReleaseName,
      Type: job.Type,
      InputArguments: job.InputArguments,
      OutputArguments: null,
    };
  return { ...base, StartTime: job.StartTime, EndTime: job.EndTime, Info: job.Info, OutputArguments: {} };
}

/** A queue item as queue item events carry it: no LastModificationTime nor folder. */
function eventItem(item: Row): Record<string, unknown> {
  const { LastModificationTime: _modified, OrganizationUnitId: _folder, ...rest } = item;
  delete rest.OrganizationUnitFullyQualifiedName;
  delete rest.RowVersion;
  return rest;
}

// -------------------------------------------------------------------------------------------------
// Times: ISO strings with seven fractional digits, which compare as strings.

function formatTicks(ticksPastBase: bigint): string {
  const ms = Number(ticksPastBase / 10_000n);
  const sub = ticksPastBase % 10_000n;
  const iso = new Date(BASE_MS + ms).toISOString(); // 2024-01-01T00:00:00.000Z
  return `${iso.slice(0, 23)}${sub.toString().padStart(4, '0')}Z`;
}

/** A datetime literal normalised to the stored form, or undefined if it is not one. */
function normaliseTime(value: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = (m[2] ?? '').padEnd(7, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

// -------------------------------------------------------------------------------------------------
// A small OData $filter: eq ne gt ge lt le, and or not, parentheses; numbers, 'strings', datetimes,
// null, true, false; property paths (Robot/Id).

class ODataError extends Error {}

type Literal = { kind: 'lit'; value: string | number | boolean | null; time?: string };
type Expr =
  | Literal
  | { kind: 'prop'; path: string[] }
  | { kind: 'cmp'; op: string; left: Expr; right: Expr }
  | { kind: 'bool'; op: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr };

type Token =
  { t: 'lp' } | { t: 'rp' } | { t: 'word'; v: string } | { t: 'str'; v: string } | { t: 'num'; v: number };

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === ' ') {
      i++;
    } else if (c === '(' || c === ')') {
      out.push(c === '(' ? { t: 'lp' } : { t: 'rp' });
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= input.length) throw new ODataError('Unterminated string literal in $filter.');
        if (input[i] === "'") {
          if (input[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += input[i++];
      }
      out.push({ t: 'str', v: s });
    } else {
      const m = /^[^\s()']+/.exec(input.slice(i));
      if (!m) throw new ODataError(`Syntax error at position ${i} in $filter.`);
      const word = m[0];
      i += word.length;
      if (/^-?\d+(\.\d+)?$/.test(word)) out.push({ t: 'num', v: Number(word) });
      else out.push({ t: 'word', v: word });
    }
  }
  return out;
}

function parseFilter(input: string): Expr {
  const tokens = tokenize(input);
  let pos = 0;
  const peekWord = (): string | undefined => {
    const t = tokens[pos];
    return t?.t === 'word' ? t.v.toLowerCase() : undefined;
  };
  const orExpr = (): Expr => {
    let left = andExpr();
    while (peekWord() === 'or') {
      pos++;
      left = { kind: 'bool', op: 'or', left, right: andExpr() };
    }
    return left;
  };
  const andExpr = (): Expr => {
    let left = unary();
    while (peekWord() === 'and') {
      pos++;
      left = { kind: 'bool', op: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Expr => {
    if (peekWord() === 'not') {
      pos++;
      return { kind: 'not', expr: unary() };
    }
    return comparison();
  };
  const comparison = (): Expr => {
    const left = operand();
    const op = peekWord();
    if (op && ['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op)) {
      pos++;
      return { kind: 'cmp', op, left, right: operand() };
    }
    return left;
  };
  const operand = (): Expr => {
    const t = tokens[pos++];
    if (!t) throw new ODataError('Unexpected end of $filter.');
    if (t.t === 'lp') {
      const inner = orExpr();
      if (tokens[pos++]?.t !== 'rp') throw new ODataError("')' expected in $filter.");
      return inner;
    }
    if (t.t === 'str') return { kind: 'lit', value: t.v };
    if (t.t === 'num') return { kind: 'lit', value: t.v };
    if (t.t === 'rp') throw new ODataError("Unexpected ')' in $filter.");
    if (t.v === 'null') return { kind: 'lit', value: null };
    if (t.v === 'true' || t.v === 'false') return { kind: 'lit', value: t.v === 'true' };
    const time = normaliseTime(t.v);
    if (time) return { kind: 'lit', value: time, time };
    if (/^\d/.test(t.v)) throw new ODataError(`Invalid literal '${t.v}' in $filter.`);
    if (!/^[A-Za-z_][A-Za-z0-9_/]*$/.test(t.v)) throw new ODataError(`Invalid token '${t.v}' in $filter.`);
    return { kind: 'prop', path: t.v.split('/') };
  };
  const expr = orExpr();
  if (pos !== tokens.length) throw new ODataError('Syntax error in $filter: trailing tokens.');
  return expr;
}

type Value = string | number | boolean | null | undefined;

function evaluate(expr: Expr, row: Row): Value {
  switch (expr.kind) {
    case 'lit':
      return expr.value;
    case 'prop': {
      let v: unknown = row;
      for (const p of expr.path)
        v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
      return v as Value;
    }
    case 'not':
      return !truthy(evaluate(expr.expr, row));
    case 'bool': {
      const l = truthy(evaluate(expr.left, row));
      return expr.op === 'and'
        ? l && truthy(evaluate(expr.right, row))
        : l || truthy(evaluate(expr.right, row));
    }
    case 'cmp': {
      let l = evaluate(expr.left, row);
      let r = evaluate(expr.right, row);
      // A datetime literal compares with a datetime property by instant.
      if (expr.right.kind === 'lit' && expr.right.time && typeof l === 'string') l = normaliseTime(l) ?? l;
      if (expr.left.kind === 'lit' && expr.left.time && typeof r === 'string') r = normaliseTime(r) ?? r;
      if (l === undefined) l = null;
      if (r === undefined) r = null;
      if (expr.op === 'eq') return l === r;
      if (expr.op === 'ne') return l !== r;
      if (l === null || r === null) return false; // SQL: comparing with null is unknown
      if (typeof l !== typeof r)
        throw new ODataError(`Cannot compare ${typeof l} with ${typeof r} in $filter.`);
      const c = l < r ? -1 : l > r ? 1 : 0;
      return { gt: c > 0, ge: c >= 0, lt: c < 0, le: c <= 0 }[expr.op as 'gt' | 'ge' | 'lt' | 'le'];
    }
  }
}

const truthy = (v: Value): boolean => v === true;

/** `$orderby=A asc,B desc`; nulls first when ascending, as SQL Server sorts them. */
function comparator(orderby: string): (a: Row, b: Row) => number {
  const keys = orderby.split(',').map((part) => {
    const [name, dir = 'asc', extra] = part.trim().split(/\s+/);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name ?? '') || !['asc', 'desc'].includes(dir) || extra)
      throw new ODataError(`Invalid $orderby '${part.trim()}'.`);
    return { name, sign: dir === 'desc' ? -1 : 1 };
  });
  return (a, b) => {
    for (const { name, sign } of keys) {
      const x = a[name] as Value;
      const y = b[name] as Value;
      if (x === y) continue;
      if (x === null || x === undefined) return -sign;
      if (y === null || y === undefined) return sign;
      if (x < y) return -sign;
      if (x > y) return sign;
    }
    return 0;
  };
}

function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ODataError(`Invalid ${name} '${raw}'.`);
  return n;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function uuidFrom(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const trace = (): string => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}
