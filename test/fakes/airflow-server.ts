import type http from 'node:http';
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

/** A DAG run as the fake keeps it; served in the stable API's DAGRun shape. */
export interface FakeDagRun {
  dagId: string;
  dagRunId: string;
  /** The conf as received. */
  conf: Record<string, unknown>;
  note: string | null;
  /** ISO time with microseconds, as Airflow writes it. */
  logicalDate: string;
  state: 'queued' | 'running' | 'success' | 'failed';
}

export interface FakeAirflowOptions {
  username?: string;
  password?: string;
  /** Accepted as `Authorization: Bearer <token>`. */
  token?: string;
  /** DAG ids that exist. Default etl_daily, train_model. */
  dags?: string[];
}

/** One request as the fake saw it; never the Authorization header. */
export interface AirflowRequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The parsed JSON body, if any. */
  body: unknown;
  auth: 'basic' | 'bearer' | 'none';
  authorized: boolean;
}

const DOCS = 'https://airflow.apache.org/docs/apache-airflow/2.9.3/stable-rest-api-ref.html#section/Errors';
/** `[scheduler] allowed_run_id_pattern` default and DagRun's own RUN_ID_REGEX. */
const ALLOWED_RUN_ID = /^[A-Za-z0-9_.~:+-]+$/;
const RUN_ID_REGEX =
  /^(?:manual|scheduled|dataset_triggered)__(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00)$/;
/** What DAGRunSchema loads; anything else is "Unknown field." */
const WRITABLE = new Set([
  'dag_run_id',
  'logical_date',
  'execution_date',
  'data_interval_start',
  'data_interval_end',
  'conf',
  'note',
]);
const BASE_TIME = Date.parse('2024-06-01T00:00:00Z');

const problem = (status: number, title: string, detail: string | null, type: string) =>
  new FakeHttpError(status, { detail, status, title, type: `${DOCS}/${type}` });

/**
 * Apache Airflow 2's stable REST API on 127.0.0.1, for what the connector uses: basic auth (the
 * `basic_auth` backend: a 401 is plain text `Unauthorized` with `WWW-Authenticate: Basic`) or a bearer
 * token; `GET /api/v1/health` (unauthenticated), `GET /api/v1/dags`, `POST /api/v1/dags/{dag_id}/dagRuns`
 * (DAGRunSchema validation, `allowed_run_id_pattern`, 409 AlreadyExists on a taken run id or logical date,
 * 200 with the DAGRun) and `GET .../dagRuns/{dag_run_id}`. Errors are RFC 7807 problem details.
 */
export class FakeAirflowServer extends FakeHttpServer {
  readonly username: string;
  readonly password: string;
  readonly token: string;
  /** Every request, in order. */
  requests: AirflowRequestLog[] = [];
  /** The next trigger is carried out, then its connection dropped without a reply. */
  loseNextTriggerReply = false;
  /** The next trigger answers 409 on its logical date and creates nothing (two triggers in one microsecond). */
  logicalDateConflictNext = false;
  /** The user may read but not trigger (403 PermissionDenied on POST). */
  readOnly = false;
  /** A 401 echoes the Authorization header it got, as a careless proxy does. */
  echoCredentials = false;

  private readonly dags: Set<string>;
  private readonly runs = new Map<string, FakeDagRun>();
  private clock = 0;
  private revoked = false;

  constructor(options: FakeAirflowOptions = {}) {
    super();
    this.username = options.username ?? 'nerve';
    this.password = options.password ?? 'fake-airflow-password-0123456789';
    this.token = options.token ?? 'fake-airflow-token-0123456789abcdef';
    recordSecret('Airflow password', this.password);
    recordSecret('Airflow token', this.token);
    recordSecret(
      'Airflow basic credentials',
      Buffer.from(`${this.username}:${this.password}`).toString('base64'),
    );
    this.dags = new Set(options.dags ?? ['etl_daily', 'train_model']);
  }

  /** Every credential stops working (401 from then on). */
  revokeCredentials(): void {
    this.revoked = true;
  }

  /** Copies of all DAG runs, in creation order. */
  dagRuns(dagId?: string): FakeDagRun[] {
    return [...this.runs.values()]
      .filter((r) => dagId === undefined || r.dagId === dagId)
      .map((r) => structuredClone(r));
  }

  /** A copy of one run. */
  dagRun(dagId: string, dagRunId: string): FakeDagRun | undefined {
    const run = this.runs.get(runKey(dagId, dagRunId));
    return run && structuredClone(run);
  }

  /** Moves a run along, as the scheduler would. */
  setState(dagId: string, dagRunId: string, state: FakeDagRun['state']): void {
    const run = this.runs.get(runKey(dagId, dagRunId));
    if (!run) throw new RangeError(`fake Airflow: no run ${dagRunId} of ${dagId}`);
    run.state = state;
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    const header = req.headers.authorization;
    const auth = header?.startsWith('Basic ') ? 'basic' : header?.startsWith('Bearer ') ? 'bearer' : 'none';
    const authorized = this.authorized(header);
    const log: AirflowRequestLog = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      auth,
      authorized,
    };
    this.requests.push(log);
    try {
      const raw = await readBody(req);
      if (raw.length > 0) {
        try {
          log.body = JSON.parse(raw.toString('utf8'));
        } catch {
          log.body = raw.toString('utf8');
        }
      }
      if (!url.pathname.startsWith('/api/v1/'))
        throw problem(404, 'Not Found', 'The requested URL was not found', 'NotFound');
      if (this.faults.apply(res, this.hung)) return;
      if (method === 'GET' && url.pathname === '/api/v1/health') return sendJson(res, 200, this.health());
      if (!authorized) return this.unauthorized(res, header);
      this.route(method, url, raw, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof FakeHttpError) return sendJson(res, error.status, error.body, error.headers);
      sendJson(res, 500, {
        detail: (error as Error).message,
        status: 500,
        title: 'Internal Server Error',
        type: `${DOCS}/Unknown`,
      });
    }
  }

  private authorized(header: string | undefined): boolean {
    if (this.revoked || !header) return false;
    if (header.startsWith('Bearer ')) return header.slice('Bearer '.length) === this.token;
    if (!header.startsWith('Basic ')) return false;
    return (
      Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8') ===
      `${this.username}:${this.password}`
    );
  }

  private unauthorized(res: http.ServerResponse, header: string | undefined): void {
    res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'www-authenticate': 'Basic' });
    res.end(this.echoCredentials ? `Unauthorized: ${header ?? ''}` : 'Unauthorized');
  }

  private route(method: string, url: URL, raw: Buffer, res: http.ServerResponse): void {
    const path = url.pathname;
    if (method === 'GET' && path === '/api/v1/dags') return sendJson(res, 200, this.listDags(url));
    const runs = /^\/api\/v1\/dags\/([^/]+)\/dagRuns$/.exec(path);
    if (method === 'POST' && runs) return this.trigger(decodeURIComponent(runs[1]), raw, res);
    const one = /^\/api\/v1\/dags\/([^/]+)\/dagRuns\/([^/]+)$/.exec(path);
    if (method === 'GET' && one) {
      const [dagId, dagRunId] = [decodeURIComponent(one[1]), decodeURIComponent(one[2])];
      const run = this.runs.get(runKey(dagId, dagRunId));
      if (!run)
        throw problem(
          404,
          'DAGRun not found',
          `DAGRun with DAG ID: '${dagId}' and DagRun ID: '${dagRunId}' not found`,
          'NotFound',
        );
      return sendJson(res, 200, wireRun(run));
    }
    throw problem(404, 'Not Found', 'The requested URL was not found on the server.', 'NotFound');
  }

  private trigger(dagId: string, raw: Buffer, res: http.ServerResponse): void {
    if (this.readOnly) throw problem(403, 'Forbidden', null, 'PermissionDenied');
    if (!this.dags.has(dagId))
      throw problem(404, 'DAG not found', `DAG with dag_id: '${dagId}' not found`, 'NotFound');
    const body = parseJsonBody(raw, (m) => problem(400, 'Bad Request', m, 'BadRequest'));
    if (!isObject(body))
      throw problem(400, 'Bad Request', "{'_schema': ['Invalid input type.']}", 'BadRequest');
    const unknown = Object.keys(body).filter((k) => !WRITABLE.has(k));
    if (unknown.length > 0)
      throw problem(
        400,
        'Bad Request',
        `{${unknown.map((k) => `'${k}': ['Unknown field.']`).join(', ')}}`,
        'BadRequest',
      );
    if (body.conf !== undefined && !isObject(body.conf))
      throw problem(400, 'Bad Request', "{'conf': ['Not a valid mapping type.']}", 'BadRequest');
    if (body.note !== undefined && body.note !== null && typeof body.note !== 'string')
      throw problem(400, 'Bad Request', "{'note': ['Not a valid string.']}", 'BadRequest');
    const logicalDate = this.nextLogicalDate();
    const dagRunId =
      typeof body.dag_run_id === 'string' ? body.dag_run_id : `manual__${logicalDate.replace(/\.\d+/, '')}`;
    if (!ALLOWED_RUN_ID.test(dagRunId) && !RUN_ID_REGEX.test(dagRunId))
      throw problem(
        400,
        'Bad Request',
        `The run_id provided '${dagRunId}' does not match the pattern '${ALLOWED_RUN_ID.source}' or '${RUN_ID_REGEX.source}'`,
        'BadRequest',
      );
    if (this.logicalDateConflictNext) {
      this.logicalDateConflictNext = false;
      throw problem(
        409,
        'Conflict',
        `DAGRun with DAG ID: '${dagId}' and DAGRun logical date: '${logicalDate.replace('T', ' ')}' already exists`,
        'AlreadyExists',
      );
    }
    if (this.runs.has(runKey(dagId, dagRunId)))
      throw problem(
        409,
        'Conflict',
        `DAGRun with DAG ID: '${dagId}' and DAGRun ID: '${dagRunId}' already exists`,
        'AlreadyExists',
      );
    const run: FakeDagRun = {
      dagId,
      dagRunId,
      conf: isObject(body.conf) ? structuredClone(body.conf) : {},
      note: typeof body.note === 'string' ? body.note : null,
      logicalDate,
      state: 'queued',
    };
    this.runs.set(runKey(dagId, dagRunId), run);
    if (this.loseNextTriggerReply) {
      this.loseNextTriggerReply = false;
      return dropConnection(res);
    }
    sendJson(res, 200, wireRun(run));
  }

  private listDags(url: URL): Record<string, unknown> {
    const limit = Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100);
    const dags = [...this.dags].sort();
    return {
      dags: dags.slice(0, limit).map((dagId) => ({
        dag_id: dagId,
        dag_display_name: dagId,
        description: null,
        file_token: Buffer.from(dagId).toString('base64'),
        fileloc: `/opt/airflow/dags/${dagId}.py`,
        is_active: true,
        is_paused: false,
        is_subdag: false,
        owners: ['airflow'],
        root_dag_id: null,
        schedule_interval: null,
        tags: [],
      })),
      total_entries: dags.length,
    };
  }

  private health(): Record<string, unknown> {
    return {
      metadatabase: { status: 'healthy' },
      scheduler: { status: 'healthy', latest_scheduler_heartbeat: new Date(BASE_TIME).toISOString() },
    };
  }

  /** A fake clock one millisecond per trigger, so runs never collide on their logical date by accident. */
  private nextLogicalDate(): string {
    return new Date(BASE_TIME + ++this.clock).toISOString().replace('Z', '000+00:00');
  }
}

const runKey = (dagId: string, dagRunId: string) => `${dagId}\u0000${dagRunId}`;

/** The stable API's DAGRun. */
function wireRun(run: FakeDagRun): Record<string, unknown> {
  return {
    conf: structuredClone(run.conf),
    dag_id: run.dagId,
    dag_run_id: run.dagRunId,
    data_interval_end: run.logicalDate,
    data_interval_start: run.logicalDate,
    end_date: null,
    execution_date: run.logicalDate,
    external_trigger: true,
    last_scheduling_decision: null,
    logical_date: run.logicalDate,
    note: run.note,
    run_type: 'manual',
    start_date: run.state === 'queued' ? null : run.logicalDate,
    state: run.state,
  };
}
