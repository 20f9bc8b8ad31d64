import { createHash } from 'node:crypto';
import { ConnectorError, GrpcGatewayHttp, badField, isObject, permanent } from '../_shared';
import type { ConnectorEnv, HttpRequest } from '../_shared';

const VENDOR = 'Temporal';

/** What the client needs to reach one Temporal namespace over the HTTP API. */
export interface TemporalClientOptions {
  /** The frontend's HTTP API, e.g. http://temporal:7243 or https://<namespace>.<account>.tmprl.cloud. */
  baseUrl: string;
  namespace: string;
  /** An API key, sent as a bearer token; none for a server without auth. */
  apiKey?: string;
}

/** What a workflow execution is started with. */
export interface WorkflowStart {
  workflowId: string;
  requestId: string;
  workflowType: string;
  taskQueue: string;
  /** The workflow's arguments, each one JSON payload. */
  args: unknown[];
}

/**
 * Workflow ids are free text, but the id travels as the last segment of the URL path, where grpc-gateway
 * reads a `:` as the start of a custom verb and `/` as a separator: ids of these characters only are used
 * as they are.
 */
const PLAIN_ID = /^[A-Za-z0-9._-]{1,200}$/;
const ID_PREFIX = 'nerve-';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The workflow id for an idempotency key: `nerve-<key>` when the key is plain, else a readable part and a
 * hash of the whole. The same key always gives the same id.
 */
export function workflowIdFor(key: string): string {
  if (PLAIN_ID.test(key)) return ID_PREFIX + key;
  const slug = key
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return `${ID_PREFIX}${slug ? `${slug}-` : ''}${sha256(key).slice(0, 32)}`;
}

/**
 * The start request id for an idempotency key, in UUID form (what Temporal's clients send): a retried
 * start with the same request id is answered with the run the first one started.
 */
export function requestIdFor(key: string): string {
  const h = sha256(`nerve-temporal-start:${key}`);
  // Version 8 (custom) and the RFC 9562 variant bits, so it reads as a well-formed UUID.
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Temporal's HTTP API (the frontend's grpc-gateway, `/api/v1/...` bindings of WorkflowService), the only
 * place that knows its wire and auth: an API key as `Authorization: Bearer`, DescribeNamespace for
 * `check`, StartWorkflowExecution and DescribeWorkflowExecution. Payloads are sent in the long form
 * (`{payloads: [{metadata: {encoding}, data}]}`, base64), which both the default (shorthand) and the
 * `no-payload-shorthand` readers take. Errors are gRPC statuses as JSON under the mapped HTTP status.
 */
export class TemporalClient {
  private readonly http: GrpcGatewayHttp;
  private readonly namespace: string;

  constructor(options: TemporalClientOptions, env: ConnectorEnv) {
    this.namespace = options.namespace;
    this.http = new GrpcGatewayHttp(
      {
        vendor: VENDOR,
        baseUrl: options.baseUrl,
        authorization: options.apiKey ? `Bearer ${options.apiKey}` : undefined,
        secrets: options.apiKey ? [options.apiKey] : [],
      },
      env,
    );
  }

  private get namespacePath(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.namespace)}`;
  }

  /** DescribeNamespace (`GET /api/v1/namespaces/{namespace}`): proves the address, the key and the namespace. */
  async check(): Promise<void> {
    const operation = 'check namespace';
    const body = await this.send({ path: this.namespacePath, operation });
    const info = isObject(body) ? body.namespaceInfo : undefined;
    if (!isObject(info)) throw permanent(`${VENDOR} ${operation}: the reply has no namespaceInfo`);
  }

  /**
   * StartWorkflowExecution (`POST /api/v1/namespaces/{namespace}/workflows/{workflow_id}`). The request id
   * makes retries safe: Temporal answers a start whose request id the current run already carries with
   * that run. The workflow id is never reused (REJECT_DUPLICATE); a run of this id that some other start
   * made (a reset, a continue-as-new chain) is described and returned instead.
   */
  async startWorkflow(start: WorkflowStart): Promise<Record<string, unknown>> {
    const operation = 'start workflow';
    const json: Record<string, unknown> = {
      workflowType: { name: start.workflowType },
      taskQueue: { name: start.taskQueue },
      requestId: start.requestId,
      identity: 'nerve',
      workflowIdReusePolicy: 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE',
    };
    if (start.args.length > 0) json.input = { payloads: start.args.map(jsonPayload) };
    try {
      const body = await this.send({
        method: 'POST',
        path: `${this.namespacePath}/workflows/${encodeURIComponent(start.workflowId)}`,
        json,
        operation,
      });
      if (!isObject(body) || typeof body.runId !== 'string' || body.runId === '')
        throw permanent(`${VENDOR} ${operation}: the reply has no runId`);
      return { workflowId: start.workflowId, ...body };
    } catch (error) {
      if (!(error instanceof ConnectorError) || error.details.status !== 409) throw error;
    }
    const existing = await this.describeWorkflow(start.workflowId);
    if (!existing)
      throw permanent(
        `${VENDOR} ${operation}: the workflow id ${start.workflowId} is taken but cannot be described`,
      );
    return existing;
  }

  /** DescribeWorkflowExecution of the current run of a workflow id; undefined when there is none. */
  async describeWorkflow(workflowId: string): Promise<Record<string, unknown> | undefined> {
    const operation = 'describe workflow';
    try {
      const body = await this.send({
        path: `${this.namespacePath}/workflows/${encodeURIComponent(workflowId)}`,
        operation,
      });
      const info = isObject(body) ? body.workflowExecutionInfo : undefined;
      const execution = isObject(info) ? info.execution : undefined;
      if (!isObject(body) || !isObject(execution) || typeof execution.runId !== 'string')
        throw permanent(`${VENDOR} ${operation}: the reply has no workflowExecutionInfo.execution`);
      return body;
    } catch (error) {
      if (error instanceof ConnectorError && error.details.status === 404) return undefined;
      throw error;
    }
  }

  private send(req: HttpRequest): Promise<unknown> {
    return this.http.send(req, (summary, status) =>
      status === 404 && /^namespace\b.*\bnot found/i.test(summary)
        ? badField('config.namespace', `${VENDOR}: ${summary}`)
        : undefined,
    );
  }
}

/** One argument as Temporal's default JSON converter writes it: `json/plain`, base64 in proto JSON. */
function jsonPayload(value: unknown): Record<string, unknown> {
  return {
    metadata: { encoding: Buffer.from('json/plain', 'utf8').toString('base64') },
    data: Buffer.from(JSON.stringify(value), 'utf8').toString('base64'),
  };
}
