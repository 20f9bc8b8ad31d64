import { createHash } from 'node:crypto';
import { ConnectorError, GrpcGatewayHttp, badField, isObject, permanent, temporary } from '../_shared';
import type { ConnectorEnv, HttpRequest } from '../_shared';

const VENDOR = 'Argo Workflows';

/** What the client needs to reach one Argo Server and namespace. */
export interface ArgoClientOptions {
  /** The Argo Server, e.g. https://argo.example.com:2746. */
  baseUrl: string;
  namespace: string;
  /** A Kubernetes service account token (with or without its `Bearer ` prefix); none in server auth mode. */
  token?: string;
}

/** What a workflow is submitted with. */
export interface WorkflowSubmit {
  workflowTemplate: string;
  /** metadata.name of the workflow: fixed, so a second submit is refused (409) instead of run twice. */
  name: string;
  parameters: Record<string, string | number | boolean>;
  labels: Record<string, string>;
}

/** Kubernetes names are DNS-1123 subdomains, but Argo copies the workflow name into 63-character label values. */
const MAX_NAME = 63;
const HASH_CHARS = 16;
const NAME_PREFIX = 'nerve-';

/**
 * The workflow name for an idempotency key: `nerve-`, a readable lower-case part of the key and 16 hex
 * characters of its hash, at most 63 characters of [a-z0-9-]. The hash keeps keys apart that fold to the
 * same readable part (case, punctuation); the same key always gives the same name.
 */
export function workflowNameFor(key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, HASH_CHARS);
  const room = MAX_NAME - NAME_PREFIX.length - HASH_CHARS - 1;
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, room)
    .replace(/-+$/, '');
  return `${NAME_PREFIX}${slug ? `${slug}-` : ''}${hash}`;
}

/**
 * The Argo Server's HTTP API (grpc-gateway over its gRPC services), the only place that knows its wire and
 * auth: `Authorization: Bearer <token>`, workflow submission from a WorkflowTemplate, workflow read, and
 * the template list for `check`. Errors are gRPC statuses as JSON (`{code, message}`) under the mapped
 * HTTP status (AlreadyExists 409, NotFound 404, Unauthenticated 401, PermissionDenied 403).
 */
export class ArgoClient {
  private readonly http: GrpcGatewayHttp;
  private readonly namespace: string;

  constructor(options: ArgoClientOptions, env: ConnectorEnv) {
    this.namespace = options.namespace;
    const token = options.token;
    this.http = new GrpcGatewayHttp(
      {
        vendor: VENDOR,
        baseUrl: options.baseUrl,
        authorization: token ? (/^Bearer\s/i.test(token) ? token : `Bearer ${token}`) : undefined,
        secrets: token ? [token.replace(/^Bearer\s+/i, '')] : [],
        // grpc-gateway v1 also sends `error`, with the same text.
        messageOf: (body) => body.message ?? body.error,
      },
      env,
    );
  }

  /**
   * One WorkflowTemplate of the namespace (`GET /api/v1/workflow-templates/{namespace}`, limit 1). Not
   * `/api/v1/info`: in the server's client auth mode that answers any well-formed token, while listing
   * templates reaches Kubernetes with the token and so proves it, the namespace and the right to read.
   */
  async check(): Promise<void> {
    const operation = 'check credentials';
    const body = await this.send({
      path: `/api/v1/workflow-templates/${encodeURIComponent(this.namespace)}`,
      query: { 'listOptions.limit': 1 },
      operation,
    });
    if (!isObject(body)) throw permanent(`${VENDOR} ${operation}: the reply is not a template list`);
  }

  /**
   * `POST /api/v1/workflows/{namespace}/submit` from a WorkflowTemplate with a fixed name. Kubernetes refuses
   * a second object of that name (409 AlreadyExists): the workflow is then read and returned, so a retry
   * after a lost reply or a concurrent submit gets the first workflow.
   */
  async submitWorkflow(submit: WorkflowSubmit): Promise<Record<string, unknown>> {
    const operation = 'submit workflow';
    const json = {
      namespace: this.namespace,
      resourceKind: 'WorkflowTemplate',
      resourceName: submit.workflowTemplate,
      submitOptions: {
        name: submit.name,
        // SubmitOpts takes `name=value` strings and labels as one `k=v,k2=v2` string.
        parameters: Object.entries(submit.parameters).map(([k, v]) => `${k}=${String(v)}`),
        labels: Object.entries(submit.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      },
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const body = await this.send(
          {
            method: 'POST',
            path: `/api/v1/workflows/${encodeURIComponent(this.namespace)}/submit`,
            json,
            operation,
          },
          submit.workflowTemplate,
        );
        return workflowOf(body, operation);
      } catch (error) {
        if (!(error instanceof ConnectorError) || error.details.status !== 409) throw error;
      }
      const existing = await this.getWorkflow(submit.name);
      if (existing) return existing;
      // Deleted between the refusal and the read: submitting again starts it afresh.
      if (attempt >= 2)
        throw temporary(
          `${VENDOR} ${operation}: the name ${submit.name} is taken but no workflow has it; try again`,
          {
            status: 409,
          },
        );
    }
  }

  /** `GET /api/v1/workflows/{namespace}/{name}` (the server also looks in the archive); undefined when none. */
  async getWorkflow(name: string): Promise<Record<string, unknown> | undefined> {
    const operation = 'read workflow';
    try {
      const body = await this.send({
        path: `/api/v1/workflows/${encodeURIComponent(this.namespace)}/${encodeURIComponent(name)}`,
        operation,
      });
      return workflowOf(body, operation);
    } catch (error) {
      if (error instanceof ConnectorError && error.details.status === 404) return undefined;
      throw error;
    }
  }

  private send(req: HttpRequest, template?: string): Promise<unknown> {
    return this.http.send(req, (summary) =>
      // Older servers read the template first (404), newer ones meet it while validating (400).
      template !== undefined && /workflowtemplates?\.argoproj\.io "[^"]*" not found/i.test(summary)
        ? badField(
            'input.workflowTemplate',
            `${VENDOR} has no WorkflowTemplate "${template}" in namespace ${this.namespace}`,
          )
        : undefined,
    );
  }
}

function workflowOf(body: unknown, operation: string): Record<string, unknown> {
  const metadata = isObject(body) ? body.metadata : undefined;
  if (!isObject(body) || !isObject(metadata) || typeof metadata.name !== 'string' || metadata.name === '')
    throw permanent(`${VENDOR} ${operation}: the reply is not a workflow`);
  return body;
}
