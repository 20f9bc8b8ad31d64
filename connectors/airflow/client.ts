import { createHash } from 'node:crypto';
import { ConnectorError, HttpClient, badField, permanent, temporary } from '../_shared';
import type { ConnectorEnv, HttpRequest } from '../_shared';

const VENDOR = 'Airflow';

/** What the client needs to reach one Airflow webserver: basic auth or a bearer token. */
export interface AirflowClientOptions {
  /** The webserver, e.g. https://airflow.example.com; the stable API is under /api/v1. */
  baseUrl: string;
  username?: string;
  password?: string;
  /** A bearer token (managed Airflow, an auth manager issuing JWTs); preferred over basic auth when set. */
  token?: string;
}

/** What a DAG run is started with. */
export interface DagRunStart {
  dagId: string;
  dagRunId: string;
  conf: Record<string, unknown>;
  note?: string;
}

/** Airflow's `[scheduler] allowed_run_id_pattern` default; `..` is refused as well (run ids become paths). */
const RUN_ID = /^[A-Za-z0-9_.~:+-]+$/;
/** DagRun.run_id is a VARCHAR(250). */
const MAX_RUN_ID = 250;
const RUN_ID_PREFIX = 'nerve__';

/**
 * The dag_run_id for an idempotency key: `nerve__<key>` when the key is made of Airflow's run id
 * characters, else a readable part of it and a hash of the whole (so keys differing only in characters
 * Airflow refuses stay apart). The same key always gives the same id, which is what makes a retried
 * trigger find its run (409) instead of starting a second one.
 */
export function dagRunIdFor(key: string): string {
  const plain = RUN_ID_PREFIX + key;
  if (RUN_ID.test(key) && !key.includes('..') && plain.length <= MAX_RUN_ID) return plain;
  const slug = key
    .replace(/[^A-Za-z0-9_~:+-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  const hash = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 32);
  return `${RUN_ID_PREFIX}${slug ? `${slug}_` : ''}${hash}`;
}

/** A 4xx Airflow explained in its RFC 7807 body; rethrown by `send` with the operation's name. */
class Rejection extends ConnectorError {
  constructor(
    readonly summary: string,
    status: number,
  ) {
    super('PERMANENT', `${VENDOR} answered ${status}: ${summary}`, { status });
  }
}

/**
 * Airflow's stable REST API (2.x, `/api/v1`), the only place that knows its wire and auth: basic auth
 * (`username:password`) or a bearer token, the DAG list for `check`, DAG run trigger and read. Errors are
 * RFC 7807 problem details (`{detail, status, title, type}`).
 */
export class AirflowClient {
  private readonly http: HttpClient;
  private readonly authorization: string | undefined;

  constructor(options: AirflowClientOptions, env: ConnectorEnv) {
    if (options.token) this.authorization = `Bearer ${options.token}`;
    else if (options.username && options.password)
      this.authorization =
        'Basic ' + Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
    this.http = new HttpClient({
      ...env.http,
      vendor: VENDOR,
      baseUrl: options.baseUrl,
      classify: classifyAirflow,
      secrets: [options.password, options.token].filter((s): s is string => !!s),
    });
  }

  /** One DAG (`GET /api/v1/dags?limit=1`): proves the address, the credentials and the right to read DAGs. */
  async check(): Promise<void> {
    const operation = 'check credentials';
    const body = await this.send({ path: '/api/v1/dags', query: { limit: 1 }, operation });
    if (!isObject(body) || !Array.isArray(body.dags))
      throw permanent(
        `${VENDOR} ${operation}: the reply has no dags list (is baseUrl an Airflow 2 webserver?)`,
      );
  }

  /**
   * `POST /api/v1/dags/{dag_id}/dagRuns`. Airflow refuses a second run with the same dag_run_id (409
   * AlreadyExists): then the run is read and returned, so a retry after a lost reply, a timeout or a
   * concurrent trigger with the same id gets the first run. A 409 on the logical date (two triggers in one
   * microsecond) leaves no run under this id: the trigger is sent again.
   */
  async triggerDagRun(start: DagRunStart): Promise<Record<string, unknown>> {
    const path = `/api/v1/dags/${encodeURIComponent(start.dagId)}/dagRuns`;
    const json: Record<string, unknown> = { dag_run_id: start.dagRunId, conf: start.conf };
    if (start.note !== undefined) json.note = start.note;
    for (let attempt = 0; ; attempt++) {
      try {
        const body = await this.send(
          { method: 'POST', path, json, operation: 'trigger DAG run' },
          start.dagId,
        );
        return dagRunOf(body, 'trigger DAG run');
      } catch (error) {
        if (!(error instanceof ConnectorError) || error.details.status !== 409) throw error;
      }
      const existing = await this.getDagRun(start.dagId, start.dagRunId);
      if (existing) return existing;
      if (attempt >= 2)
        throw temporary(
          `${VENDOR} trigger DAG run: Airflow reports a conflict but holds no run ${start.dagRunId}; try again`,
          { status: 409 },
        );
    }
  }

  /** `GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}`; undefined when there is no such run. */
  async getDagRun(dagId: string, dagRunId: string): Promise<Record<string, unknown> | undefined> {
    const operation = 'read DAG run';
    try {
      const body = await this.send({
        path: `/api/v1/dags/${encodeURIComponent(dagId)}/dagRuns/${encodeURIComponent(dagRunId)}`,
        operation,
      });
      return dagRunOf(body, operation);
    } catch (error) {
      if (error instanceof ConnectorError && error.details.status === 404) return undefined;
      throw error;
    }
  }

  /** One request with the credentials; a refusal Airflow explained is rethrown naming the operation. */
  private async send(req: HttpRequest, dagId?: string): Promise<unknown> {
    if (!this.authorization) throw badField('secrets', 'Airflow needs a token, or a username and a password');
    try {
      const res = await this.http.request({
        ...req,
        headers: { ...req.headers, authorization: this.authorization },
      });
      return res.body;
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      const status = error.details.status;
      if (status === 404 && dagId !== undefined && /DAG not found/i.test(error.summary))
        throw badField('input.dagId', `${VENDOR} has no DAG "${dagId}" (${error.summary})`);
      if (status === 400 && dagId !== undefined && /import errors/i.test(error.summary))
        throw badField('input.dagId', `${VENDOR} cannot trigger "${dagId}": ${error.summary}`);
      throw permanent(`${VENDOR} ${req.operation} answered ${status}: ${error.summary}`, error.details);
    }
  }
}

/**
 * Airflow's 4xx bodies are problem details: `{"detail": "DAG with dag_id: 'x' not found", "status": 404,
 * "title": "DAG not found", "type": ".../NotFound"}`. 401, 403, 408 and 429 keep the generic rules, which
 * never echo the body.
 */
function classifyAirflow(status: number, body: unknown): ConnectorError | undefined {
  if (status < 400 || status >= 500 || [401, 403, 408, 429].includes(status)) return undefined;
  const parts: string[] = [];
  if (isObject(body)) {
    if (typeof body.title === 'string') parts.push(body.title);
    if (typeof body.detail === 'string' && body.detail !== body.title) parts.push(body.detail);
  }
  return new Rejection((parts.join(': ') || 'no explanation given').slice(0, 500), status);
}

function dagRunOf(body: unknown, operation: string): Record<string, unknown> {
  if (!isObject(body) || typeof body.dag_run_id !== 'string' || body.dag_run_id === '')
    throw permanent(`${VENDOR} ${operation}: the reply is not a DAG run`);
  return body;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
