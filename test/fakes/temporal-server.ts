import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { recordSecret } from '../support/run-record';
import {
  FakeHttpError,
  FakeHttpServer,
  dropConnection,
  isObject,
  parseJsonBody,
  readBody,
  sendJson,
} from './fake-http';

export type FakeExecutionStatus =
  'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED' | 'TERMINATED' | 'TIMED_OUT';

/** One run of a workflow id, as the fake keeps it. */
export interface FakeWorkflowRun {
  workflowId: string;
  runId: string;
  /** The first run of its chain (itself, unless made by a reset). */
  firstRunId: string;
  /** Request ids this run answers to (its start's, and any deduplicated retry's). */
  requestIds: string[];
  workflowType: string;
  taskQueue: string;
  /** The decoded arguments: JSON for `json/plain` payloads, the payload itself otherwise. */
  args: unknown[];
  identity: string;
  reusePolicy: string;
  status: FakeExecutionStatus;
  startTime: string;
}

export interface FakeTemporalOptions {
  /** Accepted as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Registered namespaces. Default `default`. */
  namespaces?: string[];
}

/** One request as the fake saw it; never the Authorization header. */
export interface TemporalRequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorized: boolean;
}

const CODE = { invalidArgument: 3, notFound: 5, alreadyExists: 6, permissionDenied: 7, unauthenticated: 16 };
const DETAILS = 'type.googleapis.com/temporal.api.errordetails.v1.';
const BASE_TIME = Date.parse('2024-06-01T00:00:00Z');
/** The frontend's default `limit.maxIDLength`. */
const MAX_ID = 1000;
const REUSE_POLICIES = [
  'WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED',
  'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE',
  'WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY',
  'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE',
  'WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING',
];
const CONFLICT_POLICIES = [
  'WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED',
  'WORKFLOW_ID_CONFLICT_POLICY_FAIL',
  'WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING',
  'WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING',
];

const status = (httpStatus: number, code: number, message: string, details: unknown[] = []) =>
  new FakeHttpError(httpStatus, { code, message, details });

/**
 * Temporal's frontend HTTP API on 127.0.0.1 (the grpc-gateway bindings, with and without the `/api/v1`
 * prefix), for what the connector uses: an API key as a bearer token (401 `Request unauthorized.`),
 * DescribeNamespace, StartWorkflowExecution and DescribeWorkflowExecution. A start whose request id the
 * current run of the workflow id carries is answered with that run (deduplication, whatever its status);
 * otherwise a running workflow of that id is a conflict (409 WorkflowExecutionAlreadyStarted with its
 * details) and a closed one follows the reuse policy. Payloads are read in the long form and the
 * shorthand; errors are gRPC statuses as JSON.
 */
export class FakeTemporalServer extends FakeHttpServer {
  readonly apiKey: string;
  /** Every request, in order. */
  requests: TemporalRequestLog[] = [];
  /** The next start is carried out, then its connection dropped without a reply. */
  loseNextStartReply = false;
  /** The key's identity may not start workflows (403 PermissionDenied). */
  readOnly = false;
  /** A 401 echoes the Authorization header it got. */
  echoCredentials = false;

  private readonly namespaces: Set<string>;
  /** Runs by namespace and workflow id, oldest first; the last is current. */
  private readonly executions = new Map<string, FakeWorkflowRun[]>();
  private clock = 0;
  private revoked = false;

  constructor(options: FakeTemporalOptions = {}) {
    super();
    this.apiKey = options.apiKey ?? 'fake-temporal-api-key.0123456789abcdef';
    recordSecret('Temporal API key', this.apiKey);
    this.namespaces = new Set(options.namespaces ?? ['default']);
  }

  /** The API key stops working (401 from then on). */
  revokeKey(): void {
    this.revoked = true;
  }

  /** Copies of every run, oldest first (all workflow ids, or one). */
  runs(workflowId?: string, namespace = 'default'): FakeWorkflowRun[] {
    const all =
      workflowId === undefined
        ? [...this.executions.entries()]
            .filter(([k]) => k.startsWith(`${namespace}\u0000`))
            .flatMap(([, v]) => v)
        : (this.executions.get(execKey(namespace, workflowId)) ?? []);
    return all.map((r) => structuredClone(r));
  }

  /** Closes the current run of a workflow id, as its worker (or an operator) would. */
  closeRun(
    workflowId: string,
    closeStatus: Exclude<FakeExecutionStatus, 'RUNNING'> = 'COMPLETED',
    namespace = 'default',
  ): void {
    const run = this.executions.get(execKey(namespace, workflowId))?.at(-1);
    if (!run) throw new RangeError(`fake Temporal: no workflow ${workflowId}`);
    run.status = closeStatus;
  }

  /**
   * Resets the current run: a new run of the same chain, current from now on, answering to none of the
   * earlier request ids (as a reset or continue-as-new does).
   */
  resetRun(workflowId: string, namespace = 'default'): FakeWorkflowRun {
    const runs = this.executions.get(execKey(namespace, workflowId));
    const current = runs?.at(-1);
    if (!runs || !current) throw new RangeError(`fake Temporal: no workflow ${workflowId}`);
    current.status = 'TERMINATED';
    const next: FakeWorkflowRun = {
      ...structuredClone(current),
      runId: randomUUID(),
      requestIds: [randomUUID()],
      status: 'RUNNING',
      startTime: this.now(),
    };
    runs.push(next);
    return structuredClone(next);
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    const header = req.headers.authorization;
    const authorized = !this.revoked && header === `Bearer ${this.apiKey}`;
    const log: TemporalRequestLog = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      authorized,
    };
    this.requests.push(log);
    try {
      const raw = await readBody(req);
      if (raw.length > 0) log.body = parseJsonBody(raw, (m) => status(400, CODE.invalidArgument, m));
      if (this.faults.apply(res, this.hung)) return;
      if (!authorized) {
        const message = 'Request unauthorized.';
        throw status(
          401,
          CODE.unauthenticated,
          this.echoCredentials ? `${message} (${header ?? 'no header'})` : message,
        );
      }
      this.route(method, url, log.body, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof FakeHttpError) return sendJson(res, error.status, error.body, error.headers);
      sendJson(res, 500, { code: 13, message: (error as Error).message, details: [] });
    }
  }

  private route(method: string, url: URL, body: unknown, res: http.ServerResponse): void {
    // Every binding exists with and without the /api/v1 prefix.
    const path = url.pathname.replace(/^\/api\/v1(?=\/)/, '');
    const namespace = /^\/namespaces\/([^/]+)$/.exec(path);
    if (method === 'GET' && namespace)
      return sendJson(res, 200, this.describeNamespace(decodeURIComponent(namespace[1])));
    const workflow = /^\/namespaces\/([^/]+)\/workflows\/([^/]+)$/.exec(path);
    if (workflow) {
      const ns = this.knownNamespace(decodeURIComponent(workflow[1]));
      const workflowId = decodeURIComponent(workflow[2]);
      if (method === 'POST') return this.startWorkflow(ns, workflowId, body, res);
      if (method === 'GET')
        return sendJson(
          res,
          200,
          this.describeWorkflow(ns, workflowId, url.searchParams.get('execution.runId')),
        );
    }
    throw status(404, CODE.notFound, 'Not Found');
  }

  private knownNamespace(namespace: string): string {
    if (!this.namespaces.has(namespace))
      throw status(404, CODE.notFound, `Namespace ${namespace} is not found.`, [
        { '@type': `${DETAILS}NamespaceNotFoundFailure`, namespace },
      ]);
    return namespace;
  }

  private describeNamespace(name: string): Record<string, unknown> {
    this.knownNamespace(name);
    return {
      namespaceInfo: {
        name,
        state: 'NAMESPACE_STATE_REGISTERED',
        description: '',
        ownerEmail: '',
        data: {},
        id: `ns-${name}`,
        supportsSchedules: true,
      },
      config: {
        workflowExecutionRetentionTtl: '259200s',
        historyArchivalState: 'ARCHIVAL_STATE_DISABLED',
        visibilityArchivalState: 'ARCHIVAL_STATE_DISABLED',
      },
      replicationConfig: {
        activeClusterName: 'active',
        clusters: [{ clusterName: 'active' }],
        state: 'REPLICATION_STATE_NORMAL',
      },
      failoverVersion: '0',
      isGlobalNamespace: false,
    };
  }

  private startWorkflow(
    namespace: string,
    workflowId: string,
    body: unknown,
    res: http.ServerResponse,
  ): void {
    if (this.readOnly)
      throw status(403, CODE.permissionDenied, 'Request unauthorized.', [
        { '@type': `${DETAILS}PermissionDeniedFailure`, reason: '' },
      ]);
    if (!isObject(body)) throw status(400, CODE.invalidArgument, 'invalid request body');
    if (workflowId.length > MAX_ID)
      throw status(400, CODE.invalidArgument, 'WorkflowId length exceeds limit.');
    const type = isObject(body.workflowType) ? body.workflowType.name : undefined;
    if (typeof type !== 'string' || type === '')
      throw status(400, CODE.invalidArgument, 'WorkflowType is not set on request.');
    const queue = isObject(body.taskQueue) ? body.taskQueue.name : undefined;
    if (typeof queue !== 'string' || queue === '')
      throw status(400, CODE.invalidArgument, 'TaskQueue is not set on request.');
    const requestId =
      typeof body.requestId === 'string' && body.requestId !== '' ? body.requestId : randomUUID();
    if (requestId.length > MAX_ID) throw status(400, CODE.invalidArgument, 'RequestId length exceeds limit.');
    const reusePolicy = enumName(body.workflowIdReusePolicy, REUSE_POLICIES, 'workflowIdReusePolicy');
    const conflictPolicy = enumName(
      body.workflowIdConflictPolicy,
      CONFLICT_POLICIES,
      'workflowIdConflictPolicy',
    );
    const args = decodePayloads(body.input);

    const key = execKey(namespace, workflowId);
    const runs = this.executions.get(key) ?? [];
    const current = runs.at(-1);
    if (current?.requestIds.includes(requestId))
      return this.answerStart(res, {
        runId: current.runId,
        started: true,
        status: wireStatus(current.status),
      });
    if (current?.status === 'RUNNING') {
      if (conflictPolicy.endsWith('USE_EXISTING'))
        return this.answerStart(res, {
          runId: current.runId,
          started: false,
          status: wireStatus(current.status),
        });
      if (!conflictPolicy.endsWith('TERMINATE_EXISTING') && !reusePolicy.endsWith('TERMINATE_IF_RUNNING'))
        throw alreadyStarted(
          `Workflow execution is already running. WorkflowId: ${workflowId}, RunId: ${current.runId}.`,
          current,
        );
      current.status = 'TERMINATED';
    } else if (current) {
      if (reusePolicy.endsWith('REJECT_DUPLICATE'))
        throw alreadyStarted(
          `Workflow execution already finished and WorkflowIdReusePolicy is REJECT_DUPLICATE. WorkflowId: ${workflowId}, RunId: ${current.runId}.`,
          current,
        );
      if (reusePolicy.endsWith('FAILED_ONLY') && current.status === 'COMPLETED')
        throw alreadyStarted(
          `Workflow execution already finished successfully. WorkflowId: ${workflowId}, RunId: ${current.runId}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed.`,
          current,
        );
    }
    const runId = randomUUID();
    runs.push({
      workflowId,
      runId,
      firstRunId: runId,
      requestIds: [requestId],
      workflowType: type,
      taskQueue: queue,
      args,
      identity: typeof body.identity === 'string' ? body.identity : '',
      reusePolicy,
      status: 'RUNNING',
      startTime: this.now(),
    });
    this.executions.set(key, runs);
    if (this.loseNextStartReply) {
      this.loseNextStartReply = false;
      return dropConnection(res);
    }
    this.answerStart(res, { runId, started: true, status: 'WORKFLOW_EXECUTION_STATUS_RUNNING' });
  }

  private answerStart(res: http.ServerResponse, reply: Record<string, unknown>): void {
    sendJson(res, 200, reply);
  }

  private describeWorkflow(
    namespace: string,
    workflowId: string,
    runId: string | null,
  ): Record<string, unknown> {
    const runs = this.executions.get(execKey(namespace, workflowId)) ?? [];
    const run = runId ? runs.find((r) => r.runId === runId) : runs.at(-1);
    if (!run) throw status(404, CODE.notFound, `workflow not found for ID: ${workflowId}`);
    return {
      executionConfig: {
        taskQueue: { name: run.taskQueue, kind: 'TASK_QUEUE_KIND_NORMAL' },
        workflowExecutionTimeout: '0s',
        workflowRunTimeout: '0s',
        defaultWorkflowTaskTimeout: '10s',
      },
      workflowExecutionInfo: {
        execution: { workflowId: run.workflowId, runId: run.runId },
        type: { name: run.workflowType },
        startTime: run.startTime,
        status: wireStatus(run.status),
        historyLength: '2',
        executionTime: run.startTime,
        memo: {},
        searchAttributes: {},
        autoResetPoints: {},
        taskQueue: run.taskQueue,
        stateTransitionCount: '1',
        historySizeBytes: '512',
        firstRunId: run.firstRunId,
      },
    };
  }

  private now(): string {
    return new Date(BASE_TIME + ++this.clock * 1000).toISOString();
  }
}

const execKey = (namespace: string, workflowId: string) => `${namespace}\u0000${workflowId}`;
const wireStatus = (s: FakeExecutionStatus) => `WORKFLOW_EXECUTION_STATUS_${s}`;

const alreadyStarted = (message: string, current: FakeWorkflowRun) =>
  status(409, CODE.alreadyExists, message, [
    {
      '@type': `${DETAILS}WorkflowExecutionAlreadyStartedFailure`,
      startRequestId: current.requestIds[0],
      runId: current.runId,
    },
  ]);

/** A proto enum in JSON: its name or its number; absent is UNSPECIFIED. */
function enumName(value: unknown, names: string[], field: string): string {
  if (value === undefined || value === null) return names[0];
  if (typeof value === 'number' && names[value]) return names[value];
  if (typeof value === 'string' && names.includes(value)) return value;
  throw status(
    400,
    CODE.invalidArgument,
    `proto: (line 1:1): invalid value for enum field ${field}: ${JSON.stringify(value)}`,
  );
}

/** Payloads in the long form (`{payloads: [{metadata, data}]}`, base64) or the shorthand (a JSON array). */
function decodePayloads(input: unknown): unknown[] {
  if (input === undefined || input === null) return [];
  const payloads = Array.isArray(input)
    ? input.map((v) => ({ shorthand: v }))
    : isObject(input)
      ? input.payloads
      : undefined;
  if (!Array.isArray(payloads)) throw status(400, CODE.invalidArgument, 'proto: invalid value for Payloads');
  return payloads.map((p: unknown) => {
    if (isObject(p) && 'shorthand' in p && Object.keys(p).length === 1) return p.shorthand;
    if (!isObject(p) || !isObject(p.metadata))
      throw status(400, CODE.invalidArgument, 'proto: invalid Payload');
    const encoding =
      typeof p.metadata.encoding === 'string'
        ? Buffer.from(p.metadata.encoding, 'base64').toString('utf8')
        : '';
    const data = typeof p.data === 'string' ? Buffer.from(p.data, 'base64').toString('utf8') : '';
    if (encoding === 'json/plain') {
      try {
        return JSON.parse(data);
      } catch {
        throw status(400, CODE.invalidArgument, 'payload data is not JSON');
      }
    }
    return { encoding, data };
  });
}
