import { randomUUID } from 'node:crypto';
import { ConnectorError, HttpClient, permanent } from '../_shared';
import type { ConnectorEnv, HttpRequest } from '../_shared';

/** What the client needs to reach one Zendesk account. */
export interface ZendeskClientOptions {
  /** https://{subdomain}.zendesk.com */
  baseUrl: string;
  email: string;
  apiToken: string;
}

/** Where an incremental export starts: a cursor Zendesk handed out, or a start time for the first call. */
export interface ExportPosition {
  cursor: string | null;
  /** Unix seconds; used only when there is no cursor. */
  startTime: number;
}

/** One page of the cursor-based incremental ticket export, envelope checked, items untouched. */
export interface ExportPage {
  tickets: unknown[];
  /** The `metric_sets` sideload (one per ticket that has metrics). */
  metricSets: unknown[];
  /** Null when Zendesk returned no cursor (an empty export started from a start time). */
  afterCursor: string | null;
  endOfStream: boolean;
}

/** The writable part of a ticket as Zendesk takes it in `{ticket: {...}}`. */
export interface TicketWrite {
  subject?: string;
  comment?: { body: string; public?: boolean };
  priority?: string;
  status?: string;
  tags?: string[];
  custom_fields?: { id: number; value: string | null }[];
}

/** Zendesk keeps an idempotency key for two hours and takes at most 255 characters. */
const MAX_IDEMPOTENCY_KEY = 255;

/**
 * A 4xx Zendesk explained in its body (`{error, description, details}`); rethrown by `send` with the
 * operation's name, since `classify` does not know which operation failed.
 */
class Rejection extends ConnectorError {
  constructor(
    readonly summary: string,
    status: number,
  ) {
    super('PERMANENT', `Zendesk answered ${status}: ${summary}`, { status });
  }
}

/**
 * Zendesk Support's REST API, the only place that knows its wire format and its auth: API-token basic
 * auth (`{email}/token:{apiToken}`), the cursor-based incremental ticket export with the `metric_sets`
 * sideload, ticket create (with `Idempotency-Key`) and update.
 */
export class ZendeskClient {
  private readonly http: HttpClient;
  private readonly authorization: string;

  constructor(options: ZendeskClientOptions, env: ConnectorEnv) {
    this.authorization =
      'Basic ' + Buffer.from(`${options.email}/token:${options.apiToken}`, 'utf8').toString('base64');
    this.http = new HttpClient({
      ...env.http,
      vendor: 'Zendesk',
      baseUrl: options.baseUrl,
      classify: classifyZendesk,
      secrets: [options.apiToken],
    });
  }

  /** The user the credentials belong to (`GET /api/v2/users/me.json`). */
  async me(): Promise<Record<string, unknown>> {
    const { body } = await this.send({ path: '/api/v2/users/me.json', operation: 'check credentials' });
    const user = isObject(body) ? body.user : undefined;
    if (!isObject(user)) throw permanent('Zendesk check credentials: the reply has no user');
    return user;
  }

  /**
   * One page of `GET /api/v2/incremental/tickets/cursor.json`: `start_time` on the first call, then the
   * previous page's `after_cursor`. Deleted tickets are kept (status `deleted`).
   */
  async exportTickets(position: ExportPosition, perPage: number): Promise<ExportPage> {
    const query: HttpRequest['query'] = { per_page: perPage, include: 'metric_sets' };
    if (position.cursor !== null) query.cursor = position.cursor;
    else query.start_time = position.startTime;
    const operation = 'export tickets';
    const { body } = await this.send({ path: '/api/v2/incremental/tickets/cursor.json', query, operation });
    if (!isObject(body) || !Array.isArray(body.tickets))
      throw permanent(`Zendesk ${operation}: the reply has no tickets list`);
    const afterCursor =
      typeof body.after_cursor === 'string' && body.after_cursor !== '' ? body.after_cursor : null;
    const endOfStream = body.end_of_stream === true;
    if (!endOfStream && afterCursor === null)
      throw permanent(`Zendesk ${operation}: the reply has neither end_of_stream nor after_cursor`);
    return {
      tickets: body.tickets,
      metricSets: Array.isArray(body.metric_sets) ? body.metric_sets : [],
      afterCursor,
      endOfStream,
    };
  }

  /**
   * `POST /api/v2/tickets.json`. Always sends an `Idempotency-Key` (a fresh one when the caller has
   * none), so the HTTP client's retries after a lost reply never open a second ticket.
   */
  async createTicket(
    ticket: TicketWrite,
    idempotencyKey: string | undefined,
  ): Promise<Record<string, unknown>> {
    const key = idempotencyKey ?? randomUUID();
    if (key.length > MAX_IDEMPOTENCY_KEY)
      throw permanent(`Zendesk create ticket: the idempotency key is longer than ${MAX_IDEMPOTENCY_KEY}`);
    const { body } = await this.send({
      method: 'POST',
      path: '/api/v2/tickets.json',
      json: { ticket },
      headers: { 'idempotency-key': key },
      operation: 'create ticket',
    });
    return ticketOf(body, 'create ticket');
  }

  /** `PUT /api/v2/tickets/{id}.json`; an update is idempotent by nature (Zendesk takes no key here). */
  /** One ticket as it is now (`GET /api/v2/tickets/{id}.json`). */
  async ticket(id: number): Promise<Record<string, unknown>> {
    const { body } = await this.send({ path: `/api/v2/tickets/${id}.json`, operation: `show ticket ${id}` });
    return ticketOf(body, `show ticket ${id}`);
  }

  async updateTicket(id: number, ticket: TicketWrite): Promise<Record<string, unknown>> {
    const { body } = await this.send({
      method: 'PUT',
      path: `/api/v2/tickets/${id}.json`,
      json: { ticket },
      operation: `update ticket ${id}`,
    });
    return ticketOf(body, `update ticket ${id}`);
  }

  private async send(req: HttpRequest): Promise<{ body: unknown }> {
    try {
      const res = await this.http.request({
        ...req,
        headers: { ...req.headers, authorization: this.authorization },
      });
      return { body: res.body };
    } catch (error) {
      if (error instanceof Rejection)
        throw permanent(
          `Zendesk ${req.operation} answered ${error.details.status}: ${error.summary}`,
          error.details,
        );
      throw error;
    }
  }
}

/**
 * Zendesk's 4xx bodies say what is wrong: `{"error":"Couldn't authenticate you"}`,
 * `{"error":"RecordInvalid","description":"Record validation errors","details":{"subject":[...]}}`,
 * `{"error":"IdempotentRequestError",...}` or `{"error":{"title","message"}}`. 408 and 429 keep the
 * generic TEMPORARY rules (429 carries `Retry-After`).
 */
function classifyZendesk(status: number, body: unknown): ConnectorError | undefined {
  if (status < 400 || status >= 500 || status === 408 || status === 429) return undefined;
  return new Rejection(describeError(status, body), status);
}

function describeError(status: number, body: unknown): string {
  const parts: string[] = [];
  if (isObject(body)) {
    if (typeof body.error === 'string') parts.push(body.error);
    else if (isObject(body.error)) {
      if (typeof body.error.title === 'string') parts.push(body.error.title);
      if (typeof body.error.message === 'string') parts.push(body.error.message);
    }
    if (typeof body.description === 'string') parts.push(body.description);
    const details = isObject(body.details) ? describeDetails(body.details) : '';
    if (details) parts.push(details);
  }
  if (status === 401) parts.push('check the email and API token');
  if (status === 403) parts.push('the user lacks the right (the incremental export needs an admin)');
  return (parts.join('; ') || 'no explanation given').slice(0, 500);
}

/** `{"subject":[{"description":"Subject: cannot be blank","error":"BlankValue"}]}` → `subject: Subject: cannot be blank`. */
function describeDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([field, problems]) => {
      const texts = (Array.isArray(problems) ? problems : [problems])
        .map((p) => (isObject(p) ? (p.description ?? p.error) : p))
        .filter((t): t is string => typeof t === 'string');
      return `${field}: ${texts.join(', ') || 'invalid'}`;
    })
    .join('; ');
}

function ticketOf(body: unknown, operation: string): Record<string, unknown> {
  const ticket = isObject(body) ? body.ticket : undefined;
  if (!isObject(ticket)) throw permanent(`Zendesk ${operation}: the reply has no ticket`);
  return ticket;
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Whether a ticket already shows every change of `write` (a comment can never be told apart from one
 * added again, so a write with a comment is never taken as done). Zendesk has no idempotency key for
 * updates: an update whose earlier attempt may have landed is checked against the ticket first.
 */
export function alreadyApplied(ticket: Record<string, unknown>, write: TicketWrite): boolean {
  if (write.comment) return false;
  for (const field of ['subject', 'priority', 'status'] as const)
    if (write[field] !== undefined && ticket[field] !== write[field]) return false;
  if (write.tags) {
    const tags = Array.isArray(ticket.tags) ? ticket.tags.map(String) : [];
    if (tags.length !== write.tags.length || write.tags.some((t) => !tags.includes(t))) return false;
  }
  const fields = Array.isArray(ticket.custom_fields) ? (ticket.custom_fields as unknown[]) : [];
  for (const wanted of write.custom_fields ?? []) {
    const found = fields.find((f) => isObject(f) && Number(f.id) === wanted.id) as
      Record<string, unknown> | undefined;
    if (!found || (found.value ?? null) !== wanted.value) return false;
  }
  return true;
}
