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

/** A workflow as the fake keeps it; served as an argoproj.io/v1alpha1 Workflow. */
export interface FakeWorkflow {
  name: string;
  namespace: string;
  uid: string;
  workflowTemplate: string;
  /** spec.arguments.parameters as received (`name=value`), in order. */
  parameters: { name: string; value: string }[];
  labels: Record<string, string>;
  creationTimestamp: string;
  phase: '' | 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Error';
}

export interface FakeArgoOptions {
  /** Accepted as `Authorization: Bearer <token>`. */
  token?: string;
  /** The namespace holding the templates. Default `argo`. */
  namespace?: string;
  /** WorkflowTemplates by name, with their declared parameters. Default train-model and score-batch. */
  templates?: Record<string, { parameters: string[] }>;
}

/** One request as the fake saw it; never the Authorization header. */
export interface ArgoRequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorized: boolean;
}

/** gRPC codes the server's grpc-gateway writes into error bodies. */
const CODE = { invalidArgument: 3, notFound: 5, alreadyExists: 6, permissionDenied: 7, unauthenticated: 16 };
/** A lowercase RFC 1123 subdomain (metadata.name). */
const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BASE_TIME = Date.parse('2024-06-01T00:00:00Z');

/** A gRPC status as grpc-gateway v1 writes it: `error` and `message` both carry the text. */
const grpcError = (status: number, code: number, message: string) =>
  new FakeHttpError(status, { code, message, error: message, details: [] });

/**
 * The Argo Server on 127.0.0.1, for what the connector uses: bearer-token auth (401 `token not valid`),
 * `GET /api/v1/info`, `GET /api/v1/workflow-templates/{namespace}`, `POST /api/v1/workflows/{namespace}/submit`
 * from a WorkflowTemplate (SubmitOpts `name`, `parameters` as `name=value`, `labels` as `k=v,k2=v2`; a taken
 * name answers 409 AlreadyExists as Kubernetes does; a bad name 400) and `GET /api/v1/workflows/{namespace}/{name}`.
 * Errors are gRPC statuses as JSON.
 */
export class FakeArgoServer extends FakeHttpServer {
  readonly token: string;
  readonly namespace: string;
  /** Every request, in order. */
  requests: ArgoRequestLog[] = [];
  /** The next submit is carried out, then its connection dropped without a reply. */
  loseNextSubmitReply = false;
  /** The token's service account may not create workflows (403 PermissionDenied on submit). */
  readOnly = false;
  /** A 401 echoes the Authorization header it got. */
  echoCredentials = false;
  /** The next submit refused as a duplicate also deletes the workflow it collided with (a TTL in between). */
  deleteOnNextConflict = false;

  private readonly templates: Map<string, { parameters: string[] }>;
  private readonly workflows = new Map<string, FakeWorkflow>();
  private clock = 0;
  private revoked = false;

  constructor(options: FakeArgoOptions = {}) {
    super();
    this.token = options.token ?? 'fake-argo-sa-token.eyJzdWIiOiJuZXJ2ZSJ9.0123456789';
    recordSecret('Argo token', this.token);
    this.namespace = options.namespace ?? 'argo';
    this.templates = new Map(
      Object.entries(
        options.templates ?? {
          'train-model': { parameters: ['dataset', 'epochs'] },
          'score-batch': { parameters: ['model'] },
        },
      ),
    );
  }

  /** The token stops working (401 from then on). */
  revokeToken(): void {
    this.revoked = true;
  }

  /** Copies of all workflows, in creation order. */
  allWorkflows(): FakeWorkflow[] {
    return [...this.workflows.values()].map((w) => structuredClone(w));
  }

  /** A copy of one workflow. */
  workflow(name: string): FakeWorkflow | undefined {
    const wf = this.workflows.get(name);
    return wf && structuredClone(wf);
  }

  /** Removes a workflow, as its TTL or a user would: its name is free again. */
  deleteWorkflow(name: string): void {
    this.workflows.delete(name);
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    const header = req.headers.authorization;
    const authorized = !this.revoked && header === `Bearer ${this.token}`;
    const log: ArgoRequestLog = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      authorized,
    };
    this.requests.push(log);
    try {
      const raw = await readBody(req);
      if (raw.length > 0) log.body = parseJsonBody(raw, (m) => grpcError(400, CODE.invalidArgument, m));
      if (!url.pathname.startsWith('/api/v1/')) throw grpcError(404, CODE.notFound, 'Not Found');
      if (this.faults.apply(res, this.hung)) return;
      if (!authorized) {
        const message = 'token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/';
        throw grpcError(
          401,
          CODE.unauthenticated,
          this.echoCredentials ? `${message} (got ${header ?? ''})` : message,
        );
      }
      this.route(method, url, log.body, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof FakeHttpError) return sendJson(res, error.status, error.body, error.headers);
      sendJson(res, 500, { code: 13, message: (error as Error).message });
    }
  }

  private route(method: string, url: URL, body: unknown, res: http.ServerResponse): void {
    const path = url.pathname;
    if (method === 'GET' && path === '/api/v1/info')
      return sendJson(res, 200, {
        managedNamespace: this.namespace,
        links: [],
        modals: {},
        navColor: '',
        columns: [],
      });
    const templates = /^\/api\/v1\/workflow-templates\/([^/]+)$/.exec(path);
    if (method === 'GET' && templates)
      return sendJson(res, 200, this.listTemplates(decodeURIComponent(templates[1]), url));
    const submit = /^\/api\/v1\/workflows\/([^/]+)\/submit$/.exec(path);
    if (method === 'POST' && submit) return this.submit(decodeURIComponent(submit[1]), body, res);
    const one = /^\/api\/v1\/workflows\/([^/]+)\/([^/]+)$/.exec(path);
    if (method === 'GET' && one) {
      const [namespace, name] = [decodeURIComponent(one[1]), decodeURIComponent(one[2])];
      const wf = this.workflows.get(name);
      if (!wf || wf.namespace !== namespace)
        throw grpcError(404, CODE.notFound, `workflows.argoproj.io "${name}" not found`);
      return sendJson(res, 200, wireWorkflow(wf));
    }
    throw grpcError(404, CODE.notFound, 'Not Found');
  }

  private submit(namespace: string, body: unknown, res: http.ServerResponse): void {
    if (!isObject(body)) throw grpcError(400, CODE.invalidArgument, 'invalid request body');
    const kind = body.resourceKind;
    if (kind !== 'WorkflowTemplate' && kind !== 'workflowtemplate')
      throw grpcError(
        400,
        CODE.invalidArgument,
        `Resource kind '${String(kind)}' is not supported for submitting`,
      );
    if (this.readOnly)
      throw grpcError(
        403,
        CODE.permissionDenied,
        `workflows.argoproj.io is forbidden: User "system:serviceaccount:${this.namespace}:nerve" cannot create resource "workflows" in API group "argoproj.io" in the namespace "${namespace}"`,
      );
    const templateName = String(body.resourceName ?? '');
    const template = namespace === this.namespace ? this.templates.get(templateName) : undefined;
    if (!template)
      throw grpcError(404, CODE.notFound, `workflowtemplates.argoproj.io "${templateName}" not found`);
    const opts = isObject(body.submitOptions) ? body.submitOptions : {};
    const parameters: FakeWorkflow['parameters'] = [];
    for (const p of Array.isArray(opts.parameters) ? opts.parameters : []) {
      const text = String(p);
      const at = text.indexOf('=');
      if (at <= 0)
        throw grpcError(
          400,
          CODE.invalidArgument,
          `Expected parameter of the form: NAME=VALUE. Received: ${text}`,
        );
      parameters.push({ name: text.slice(0, at), value: text.slice(at + 1) });
    }
    const labels: Record<string, string> = {};
    if (typeof opts.labels === 'string' && opts.labels !== '') {
      for (const pair of opts.labels.split(',')) {
        const at = pair.indexOf('=');
        if (at <= 0) throw grpcError(400, CODE.invalidArgument, `invalid label "${pair}"`);
        labels[pair.slice(0, at)] = pair.slice(at + 1);
      }
    }
    const name =
      typeof opts.name === 'string' && opts.name !== '' ? opts.name : `${templateName}-${randomSuffix()}`;
    if (!DNS_1123.test(name) || name.length > 253)
      throw grpcError(
        400,
        CODE.invalidArgument,
        `Workflow.argoproj.io "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      );
    if (name.length > 63)
      throw grpcError(
        400,
        CODE.invalidArgument,
        `workflow name "${name}" must not be more than 63 characters long (currently ${name.length})`,
      );
    if (this.workflows.has(name)) {
      if (this.deleteOnNextConflict) {
        this.deleteOnNextConflict = false;
        this.workflows.delete(name);
      }
      throw grpcError(409, CODE.alreadyExists, `workflows.argoproj.io "${name}" already exists`);
    }
    const wf: FakeWorkflow = {
      name,
      namespace,
      uid: randomUUID(),
      workflowTemplate: templateName,
      parameters,
      labels: { ...labels, 'workflows.argoproj.io/creator': `system-serviceaccount-${this.namespace}-nerve` },
      creationTimestamp: new Date(BASE_TIME + ++this.clock * 1000).toISOString().replace('.000Z', 'Z'),
      phase: '',
    };
    this.workflows.set(name, wf);
    if (this.loseNextSubmitReply) {
      this.loseNextSubmitReply = false;
      return dropConnection(res);
    }
    sendJson(res, 200, wireWorkflow(wf));
  }

  private listTemplates(namespace: string, url: URL): Record<string, unknown> {
    const limit = Number(url.searchParams.get('listOptions.limit') ?? 0) || Infinity;
    const items = namespace === this.namespace ? [...this.templates.entries()].slice(0, limit) : [];
    return {
      metadata: { resourceVersion: String(1000 + this.clock) },
      // Like the real server: an empty list is null.
      items: items.length
        ? items.map(([name, t]) => ({
            metadata: {
              name,
              namespace,
              uid: `tmpl-${name}`,
              creationTimestamp: new Date(BASE_TIME).toISOString(),
            },
            spec: { arguments: { parameters: t.parameters.map((p) => ({ name: p })) }, entrypoint: 'main' },
          }))
        : null,
    };
  }
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 7);
}

/** An argoproj.io/v1alpha1 Workflow as the server returns it right after submission. */
function wireWorkflow(wf: FakeWorkflow): Record<string, unknown> {
  return {
    metadata: {
      name: wf.name,
      namespace: wf.namespace,
      uid: wf.uid,
      resourceVersion: '4711',
      generation: 1,
      creationTimestamp: wf.creationTimestamp,
      labels: { ...wf.labels },
    },
    spec: {
      arguments: { parameters: wf.parameters.map((p) => ({ ...p })) },
      workflowTemplateRef: { name: wf.workflowTemplate },
    },
    status: wf.phase ? { phase: wf.phase, startedAt: wf.creationTimestamp } : {},
  };
}
