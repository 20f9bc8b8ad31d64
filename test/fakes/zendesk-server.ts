import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { mulberry32 } from '../../src/common/random';
import { recordSecret } from '../support/run-record';
import { FaultInjector } from './faults';
import { closeServer, listenOnLoopback } from './loopback';
import { postWebhook, spoil } from './vendor-webhook';
import type { WebhookKnobs, WebhookSent } from './vendor-webhook';

/** A ticket as the fake keeps it; served in Zendesk's JSON shape. Times are unix seconds. */
export interface FakeTicket {
  id: number;
  subject: string | null;
  description: string;
  /** new, open, pending, hold, solved, closed, deleted. */
  status: string;
  priority: string | null;
  channel: string;
  requesterId: number;
  assigneeId: number | null;
  groupId: number | null;
  tags: string[];
  /** Custom field values by field id. */
  customFields: Record<number, string | number | null>;
  createdAt: number;
  updatedAt: number;
  /** The ticket's metric set; deleted tickets have none. */
  metrics: { replies: number; reopens: number; solvedAt: number | null } | null;
}

export interface FakeZendeskOptions {
  email?: string;
  token?: string;
  /** Seeded tickets. Default 100. */
  tickets?: number;
  seed?: number;
  routingFieldId?: number;
  requestKeyFieldId?: number;
}

/** What `schemaChange` does to exported tickets (the stored tickets are untouched). */
export interface SchemaChange {
  /** Adds fields the connector does not know. */
  unknownFields?: boolean;
  /** tags becomes a string, requester_id an object, the routing value an object, replies a string. */
  wrongTypes?: boolean;
  /** Drops subject, priority, assignee_id and via. */
  missingFields?: boolean;
}

/** A ticket event to send to a webhook, as Zendesk's event subscriptions do. */
export interface ZendeskWebhookEvent extends WebhookKnobs {
  /** `ticket.created`, `ticket.status_changed`, … (the `zen:event-type:` prefix may be left out). */
  type: string;
  ticketId: number;
  /** For `ticket.custom_field_changed`: the field that changed. Default the routing field. */
  fieldId?: number;
}

/** One request as the fake saw it; never the Authorization header. */
export interface ZendeskRequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  idempotencyKey: string | undefined;
  authorized: boolean;
}

const BASE_TIME = 1_700_000_000;
const ACCOUNT_ID = 12_514_403;
const STATUSES = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const CHANNELS = ['email', 'web', 'api', 'chat'];
const ROUTES = ['billing', 'tech', 'sales'];

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

/**
 * Zendesk Support on 127.0.0.1, speaking its wire format for what the connector uses: API-token basic
 * auth (`{email}/token:{token}`, else 401 `{"error":"Couldn't authenticate you"}`), `users/me`, the
 * cursor-based incremental ticket export (opaque cursors encoding the `(updated_at, id)` position,
 * `per_page`, `end_of_stream`, the `metric_sets` sideload, deleted tickets kept), ticket create with
 * `Idempotency-Key` (replay → the original reply and `x-idempotency-lookup: hit`; same key, other body →
 * 400 `IdempotentRequestError`), ticket update, 422 `RecordInvalid` with `details`.
 *
 * Every change bumps the ticket's `updated_at` from a fake clock, so a ticket changed during an export
 * appears again after the cursor. Unlike Zendesk, changes of the last minute are not held back.
 */
export class FakeZendeskServer {
  readonly email: string;
  readonly token: string;
  readonly routingFieldId: number;
  readonly requestKeyFieldId: number;
  /** Consulted on every /api/v2 request, before auth. */
  readonly faults = new FaultInjector();
  /** Every request, in order. */
  requests: ZendeskRequestLog[] = [];
  /** Milliseconds between applying a ticket update and answering it. */
  updateReplyDelayMs = 0;
  /** Updates applied per ticket id (an update refused by a fault never reaches here). */
  readonly updatesOf = new Map<number, number>();
  schemaChange: SchemaChange | null = null;
  /** The next ticket create is carried out, then its connection dropped without a reply. */
  loseNextCreateReply = false;
  /** Short pages: the export serves at most this many tickets per page whatever `per_page` asks. */
  maxPerPage = 1000;
  /**
   * A 401 body echoes the credentials the request carried, as a careless gateway does: the token as
   * sent, URL-encoded, JSON-escaped, alone in base64, and the whole Basic credential.
   */
  echoCredentials = false;
  /**
   * A ticket create waits this long before it looks up its idempotency key (a busy account), so
   * concurrent creates with one key all miss it and each opens a ticket.
   */
  createDelayMs = 0;

  private readonly store = new Map<number, FakeTicket>();
  private readonly idempotent = new Map<string, { body: string; reply: unknown }>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly server: http.Server;
  private clock: number;
  private nextId: number;
  private revoked = false;

  constructor(options: FakeZendeskOptions = {}) {
    this.email = options.email ?? 'admin@example.com';
    this.token = options.token ?? 'fake-zendesk-token-0123456789';
    // The hub holds these as connector credentials: the suite's secret scan looks for them.
    recordSecret('Zendesk API token', this.token);
    recordSecret(
      'Zendesk basic credentials',
      Buffer.from(`${this.email}/token:${this.token}`).toString('base64'),
    );
    this.routingFieldId = options.routingFieldId ?? 360001;
    this.requestKeyFieldId = options.requestKeyFieldId ?? 360002;
    const count = options.tickets ?? 100;
    const random = mulberry32(options.seed ?? 7);
    for (let id = 1; id <= count; id++) this.store.set(id, this.seed(id, count, random));
    this.nextId = count + 1;
    this.clock = BASE_TIME + count * 60 + 3600;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on an ephemeral port of 127.0.0.1; resolves to the base URL. */
  async start(): Promise<string> {
    return listenOnLoopback(this.server);
  }

  /** Stops listening and destroys every socket, hanging requests included. */
  async close(): Promise<void> {
    await closeServer(this.server, this.hung);
  }

  /** The API token stops working (401 from then on). */
  revokeToken(): void {
    this.revoked = true;
  }

  /** A copy of one ticket. */
  ticket(id: number): FakeTicket | undefined {
    const t = this.store.get(id);
    return t && structuredClone(t);
  }

  /** Copies of all tickets, by id. */
  tickets(): FakeTicket[] {
    return [...this.store.values()].sort((a, b) => a.id - b.id).map((t) => structuredClone(t));
  }

  /** Changes a ticket as an agent would; its updated_at moves to the fake clock's next second. */
  modifyTicket(
    id: number,
    change: Partial<
      Pick<FakeTicket, 'subject' | 'status' | 'priority' | 'tags' | 'assigneeId' | 'groupId'>
    > & {
      customFields?: Record<number, string | number | null>;
    },
  ): FakeTicket {
    const ticket = this.store.get(id);
    if (!ticket) throw new RangeError(`fake Zendesk: no ticket ${id}`);
    const { customFields, ...rest } = change;
    Object.assign(ticket, rest);
    if (customFields) Object.assign(ticket.customFields, customFields);
    this.touch(ticket, change.status);
    return structuredClone(ticket);
  }

  /** Adds a ticket as if created in Zendesk's UI. */
  addTicket(subject = 'added during the test'): FakeTicket {
    const ticket = this.create({
      subject,
      description: subject,
      priority: 'normal',
      tags: [],
      customFields: {},
    });
    return structuredClone(ticket);
  }

  /** Deletes a ticket: it stays in the export with status `deleted`. */
  deleteTicket(id: number): FakeTicket {
    return this.modifyTicket(id, { status: 'deleted' });
  }

  /**
   * Sends an event about a ticket, as it is now, to a webhook URL the way Zendesk does: the event
   * subscription payload (`type`, `id`, `time`, `subject` `zen:ticket:<id>`, `detail` the ticket with
   * string ids and upper-case status and priority, `event` what changed), signed as
   * `base64(HMAC-SHA256(secret, timestamp + body))` in `X-Zendesk-Webhook-Signature` with the timestamp
   * in `X-Zendesk-Webhook-Signature-Timestamp`.
   */
  async sendWebhook(url: string, secret: string, event: ZendeskWebhookEvent): Promise<WebhookSent> {
    // The hub holds it as a connector secret: the suite's secret scan looks for it.
    recordSecret('Zendesk webhook signing secret', secret);
    const ticket = this.store.get(event.ticketId);
    if (!ticket) throw new RangeError(`fake Zendesk: no ticket ${event.ticketId}`);
    const type = event.type.startsWith('zen:') ? event.type : `zen:event-type:${event.type}`;
    const at = event.at ?? new Date();
    const id = randomUUID();
    const body = JSON.stringify({
      type,
      account_id: ACCOUNT_ID,
      id,
      time: at.toISOString(),
      zendesk_event_version: '2022-11-06',
      subject: `zen:ticket:${ticket.id}`,
      detail: eventDetail(ticket),
      event: this.change(type, ticket, event.fieldId ?? this.routingFieldId),
    });
    const timestamp = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const signature = createHmac('sha256', secret)
      .update(timestamp + body)
      .digest('base64');
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Zendesk Webhook',
      'x-zendesk-webhook-id': '01GK8E6BKWMJZD2T8Y5AXJQMG5',
      'x-zendesk-webhook-signature': event.badSignature ? spoil(signature) : signature,
      'x-zendesk-webhook-signature-timestamp': timestamp,
    };
    return postWebhook(url, headers, body, [id], event.times);
  }

  /** The `event` object: the new status or priority, or the custom field's new value. */
  private change(type: string, ticket: FakeTicket, fieldId: number): Record<string, unknown> {
    if (type.endsWith('.status_changed')) return { current: ticket.status.toUpperCase() };
    if (type.endsWith('.priority_changed')) return { current: ticket.priority?.toUpperCase() ?? null };
    if (type.endsWith('.custom_field_changed'))
      return {
        current: { value: ticket.customFields[fieldId] ?? null },
        custom_field: { id: String(fieldId), title: `Field ${fieldId}`, type: 'text' },
      };
    return {};
  }

  private seed(id: number, count: number, random: () => number): FakeTicket {
    // Several tickets share each updated_at, so the export must order by (updated_at, id).
    const updatedAt = BASE_TIME + Math.floor(random() * Math.max(1, count / 3)) * 60;
    const createdAt = updatedAt - Math.floor(random() * 86_400);
    const deleted = id % 97 === 0;
    const status = deleted ? 'deleted' : STATUSES[Math.floor(random() * STATUSES.length)];
    const solved = status === 'solved' || status === 'closed';
    const routed = random() < 0.5;
    return {
      id,
      subject: `Ticket ${id}`,
      description: `Description of ticket ${id}`,
      status,
      priority: random() < 0.2 ? null : PRIORITIES[Math.floor(random() * PRIORITIES.length)],
      channel: CHANNELS[Math.floor(random() * CHANNELS.length)],
      requesterId: 1000 + Math.floor(random() * 500),
      assigneeId: random() < 0.3 ? null : 2000 + Math.floor(random() * 20),
      groupId: random() < 0.3 ? null : 3000 + Math.floor(random() * 5),
      tags: random() < 0.5 ? [] : [`product${id % 7}`, `topic${id % 11}`],
      customFields: {
        [this.routingFieldId]: routed ? ROUTES[Math.floor(random() * ROUTES.length)] : null,
        [this.requestKeyFieldId]: random() < 0.1 ? `req-${id}` : null,
      },
      createdAt,
      updatedAt,
      metrics: deleted
        ? null
        : {
            replies: Math.floor(random() * 5),
            reopens: Math.floor(random() * 2),
            solvedAt: solved ? updatedAt - 60 : null,
          },
    };
  }

  private create(fields: {
    subject: string | null;
    description: string;
    priority: string | null;
    tags: string[];
    customFields: Record<number, string | number | null>;
  }): FakeTicket {
    const at = ++this.clock;
    const ticket: FakeTicket = {
      id: this.nextId++,
      ...fields,
      status: 'new',
      channel: 'api',
      requesterId: 1000,
      assigneeId: null,
      groupId: null,
      createdAt: at,
      updatedAt: at,
      metrics: { replies: 0, reopens: 0, solvedAt: null },
    };
    this.store.set(ticket.id, ticket);
    return ticket;
  }

  private touch(ticket: FakeTicket, newStatus: string | undefined): void {
    ticket.updatedAt = ++this.clock;
    if (ticket.metrics && newStatus === 'solved' && ticket.metrics.solvedAt === null)
      ticket.metrics.solvedAt = ticket.updatedAt;
    if (ticket.status === 'deleted') ticket.metrics = null;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    const authorized = this.authorized(req.headers.authorization);
    const key = req.headers['idempotency-key'];
    this.requests.push({
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      idempotencyKey: typeof key === 'string' ? key : undefined,
      authorized,
    });
    try {
      const body = await readBody(req);
      if (!url.pathname.startsWith('/api/v2/')) throw new HttpError(404, { error: 'InvalidEndpoint' });
      if (this.faults.apply(res, this.hung)) return;
      if (!authorized) throw new HttpError(401, this.unauthenticated(req.headers.authorization));
      if (method === 'POST' && this.createDelayMs > 0) await delay(this.createDelayMs);
      this.route(method, url, body, typeof key === 'string' ? key : undefined, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HttpError) return send(res, error.status, error.body);
      send(res, 500, { error: 'InternalError', description: (error as Error).message });
    }
  }

  private unauthenticated(header: string | undefined): Record<string, unknown> {
    if (!this.echoCredentials) return { error: "Couldn't authenticate you" };
    const basic = (header ?? '').replace(/^Basic /, '');
    const sent = Buffer.from(basic, 'base64').toString('utf8');
    const token = sent.slice(sent.indexOf(':') + 1);
    return {
      error: `Couldn't authenticate you with token ${token}`,
      description: `credentials ${sent} (${encodeURIComponent(token)}, ${Buffer.from(token).toString('base64')}); header Basic ${basic}`,
      details: { request: [{ description: `as received: ${JSON.stringify({ token })}` }] },
    };
  }

  private authorized(header: string | undefined): boolean {
    if (this.revoked || !header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
    return decoded === `${this.email}/token:${this.token}`;
  }

  private route(
    method: string,
    url: URL,
    body: Buffer,
    key: string | undefined,
    res: http.ServerResponse,
  ): void {
    const path = url.pathname;
    if (method === 'GET' && path === '/api/v2/users/me.json')
      return send(res, 200, {
        user: { id: 900, name: 'Fake Admin', email: this.email, role: 'admin', active: true },
      });
    if (method === 'GET' && path === '/api/v2/incremental/tickets/cursor.json')
      return send(res, 200, this.exportPage(url, `http://${url.host}`));
    if (method === 'POST' && path === '/api/v2/tickets.json') return this.createTicket(body, key, res);
    const match = /^\/api\/v2\/tickets\/(\d+)\.json$/.exec(path);
    if (method === 'PUT' && match) {
      const answer = this.updateTicket(Number(match[1]), body);
      // Applied at once, answered later: a caller that dies meanwhile never learns it landed.
      if (this.updateReplyDelayMs > 0) {
        setTimeout(() => {
          if (!res.destroyed) send(res, 200, answer);
        }, this.updateReplyDelayMs);
        return;
      }
      return send(res, 200, answer);
    }
    if (method === 'GET' && match) {
      const ticket = this.store.get(Number(match[1]));
      if (!ticket || ticket.status === 'deleted')
        throw new HttpError(404, { error: 'RecordNotFound', description: 'Not found' });
      return send(res, 200, { ticket: this.wireTicket(ticket, `http://${url.host}`, false) });
    }
    throw new HttpError(404, { error: 'InvalidEndpoint', description: 'Not found' });
  }

  private exportPage(url: URL, origin: string): Record<string, unknown> {
    const q = url.searchParams;
    const perPage = Math.min(this.maxPerPage, 1000, Math.max(1, Number(q.get('per_page') ?? 1000) || 1000));
    const cursor = q.get('cursor');
    let after: [number, number] | null = null;
    let startTime = 0;
    if (cursor !== null) after = decodeCursor(cursor);
    else {
      const start = q.get('start_time');
      if (start === null || !/^\d+$/.test(start))
        throw new HttpError(400, { error: 'InvalidValue', description: 'start_time is required' });
      startTime = Number(start);
    }
    const ordered = [...this.store.values()]
      .filter((t) =>
        after
          ? t.updatedAt > after[0] || (t.updatedAt === after[0] && t.id > after[1])
          : t.updatedAt >= startTime,
      )
      .sort((a, b) => a.updatedAt - b.updatedAt || a.id - b.id);
    const page = ordered.slice(0, perPage);
    const last = page.at(-1);
    const afterCursor = last ? encodeCursor(last.updatedAt, last.id) : cursor;
    const base = `${origin}/api/v2/incremental/tickets/cursor.json`;
    const includes = (q.get('include') ?? '').split(',');
    const out: Record<string, unknown> = {
      tickets: page.map((t) => this.wireTicket(t, origin)),
      after_url: afterCursor ? `${base}?cursor=${afterCursor}` : null,
      after_cursor: afterCursor,
      before_url: page.length ? `${base}?cursor=${encodeCursor(page[0].updatedAt, page[0].id - 1)}` : null,
      before_cursor: page.length ? encodeCursor(page[0].updatedAt, page[0].id - 1) : null,
      end_of_stream: ordered.length <= perPage,
    };
    if (includes.includes('metric_sets'))
      out.metric_sets = page.filter((t) => t.metrics).map((t) => this.wireMetricSet(t, origin));
    return out;
  }

  private createTicket(body: Buffer, key: string | undefined, res: http.ServerResponse): void {
    const canonical = JSON.stringify(parseJson(body));
    if (key !== undefined) {
      const earlier = this.idempotent.get(key);
      if (earlier && earlier.body !== canonical)
        throw new HttpError(400, {
          error: 'IdempotentRequestError',
          description: "Request parameters don't match the given idempotency key",
        });
      if (earlier) return send(res, 201, earlier.reply, { 'x-idempotency-lookup': 'hit' });
    }
    const input = ticketInput(parseJson(body));
    const comment = isObject(input.comment) ? input.comment.body : undefined;
    const invalid: Record<string, unknown[]> = {};
    if (typeof comment !== 'string' || comment.trim() === '')
      invalid.description = [{ description: 'Description: cannot be blank', error: 'BlankValue' }];
    if (input.priority !== undefined && !PRIORITIES.includes(String(input.priority)))
      invalid.priority = [
        { description: `Priority: ${String(input.priority)} is not valid`, error: 'InvalidValue' },
      ];
    if (Object.keys(invalid).length > 0)
      throw new HttpError(422, {
        error: 'RecordInvalid',
        description: 'Record validation errors',
        details: invalid,
      });
    const ticket = this.create({
      subject: typeof input.subject === 'string' ? input.subject : null,
      description: comment as string,
      priority: typeof input.priority === 'string' ? input.priority : null,
      tags: stringList(input.tags),
      customFields: customFieldInput(input.custom_fields),
    });
    const origin = `http://${res.req.headers.host ?? '127.0.0.1'}`;
    const reply = {
      ticket: this.wireTicket(ticket, origin, false),
      audit: { ticket_id: ticket.id, events: [] },
    };
    if (key !== undefined) this.idempotent.set(key, { body: canonical, reply });
    if (this.loseNextCreateReply) {
      this.loseNextCreateReply = false;
      res.socket?.destroy();
      return;
    }
    send(res, 201, reply, {
      'x-idempotency-lookup': 'miss',
      location: `${origin}/api/v2/tickets/${ticket.id}.json`,
    });
  }

  private updateTicket(id: number, body: Buffer): Record<string, unknown> {
    const ticket = this.store.get(id);
    if (!ticket || ticket.status === 'deleted')
      throw new HttpError(404, { error: 'RecordNotFound', description: 'Not found' });
    const input = ticketInput(parseJson(body));
    this.updatesOf.set(id, (this.updatesOf.get(id) ?? 0) + 1);
    if (input.status !== undefined && !STATUSES.includes(String(input.status)))
      throw new HttpError(422, {
        error: 'RecordInvalid',
        description: 'Record validation errors',
        details: {
          status: [{ description: `Status: ${String(input.status)} is not valid`, error: 'InvalidValue' }],
        },
      });
    const wasSolved = ticket.status === 'solved';
    if (typeof input.status === 'string') ticket.status = input.status;
    if (typeof input.subject === 'string') ticket.subject = input.subject;
    if (typeof input.priority === 'string') ticket.priority = input.priority;
    if (input.tags !== undefined) ticket.tags = stringList(input.tags);
    Object.assign(ticket.customFields, customFieldInput(input.custom_fields));
    if (ticket.metrics && isObject(input.comment)) ticket.metrics.replies++;
    if (ticket.metrics && wasSolved && ticket.status !== 'solved' && ticket.status !== 'closed')
      ticket.metrics.reopens++;
    this.touch(ticket, typeof input.status === 'string' ? input.status : undefined);
    return {
      ticket: this.wireTicket(ticket, 'http://127.0.0.1', false),
      audit: { ticket_id: id, events: [] },
    };
  }

  /** A ticket in Zendesk's JSON shape; `schemaChange` applies to exports only. */
  private wireTicket(t: FakeTicket, origin: string, exported = true): Record<string, unknown> {
    const customFields = Object.entries(t.customFields).map(([id, value]) => ({ id: Number(id), value }));
    const wire: Record<string, unknown> = {
      url: `${origin}/api/v2/tickets/${t.id}.json`,
      id: t.id,
      external_id: null,
      via: { channel: t.channel, source: { from: {}, to: {}, rel: null } },
      created_at: iso(t.createdAt),
      updated_at: iso(t.updatedAt),
      generated_timestamp: t.updatedAt,
      type: null,
      subject: t.subject,
      raw_subject: t.subject,
      description: t.description,
      priority: t.priority,
      status: t.status,
      recipient: null,
      requester_id: t.requesterId,
      submitter_id: t.requesterId,
      assignee_id: t.assigneeId,
      organization_id: null,
      group_id: t.groupId,
      collaborator_ids: [],
      follower_ids: [],
      email_cc_ids: [],
      has_incidents: false,
      is_public: true,
      due_at: null,
      tags: [...t.tags],
      custom_fields: customFields,
      fields: customFields.map((f) => ({ ...f })),
      satisfaction_rating: null,
      sharing_agreement_ids: [],
      followup_ids: [],
      ticket_form_id: 1,
      brand_id: 1,
      allow_channelback: false,
      allow_attachments: true,
      from_messaging_channel: false,
    };
    const change = exported ? this.schemaChange : null;
    if (change?.unknownFields) {
      wire.custom_status_id = 77;
      wire.ai_sentiment = { label: 'negative', score: 0.91 };
    }
    if (change?.wrongTypes) {
      wire.tags = t.tags.join(' ');
      wire.requester_id = { id: t.requesterId };
      wire.custom_fields = customFields.map((f) =>
        f.id === this.routingFieldId ? { id: f.id, value: { name: f.value } } : f,
      );
    }
    if (change?.missingFields) {
      delete wire.subject;
      delete wire.priority;
      delete wire.assignee_id;
      delete wire.via;
    }
    return wire;
  }

  private wireMetricSet(t: FakeTicket, origin: string): Record<string, unknown> {
    const m = t.metrics as NonNullable<FakeTicket['metrics']>;
    const resolution = m.solvedAt === null ? null : Math.round((m.solvedAt - t.createdAt) / 60);
    return {
      url: `${origin}/api/v2/ticket_metrics/${t.id + 50_000}.json`,
      id: t.id + 50_000,
      ticket_id: t.id,
      created_at: iso(t.createdAt),
      updated_at: iso(t.updatedAt),
      group_stations: 1,
      assignee_stations: 1,
      reopens: m.reopens,
      replies: this.schemaChange?.wrongTypes ? String(m.replies) : m.replies,
      assignee_updated_at: null,
      requester_updated_at: iso(t.createdAt),
      status_updated_at: iso(t.updatedAt),
      initially_assigned_at: null,
      assigned_at: null,
      solved_at: m.solvedAt === null ? null : iso(m.solvedAt),
      latest_comment_added_at: iso(t.updatedAt),
      reply_time_in_minutes: { calendar: 12, business: 8 },
      first_resolution_time_in_minutes: { calendar: resolution, business: resolution },
      full_resolution_time_in_minutes: { calendar: resolution, business: resolution },
      agent_wait_time_in_minutes: { calendar: 0, business: 0 },
      requester_wait_time_in_minutes: { calendar: 0, business: 0 },
      on_hold_time_in_minutes: { calendar: 0, business: 0 },
    };
  }
}

/**
 * A ticket as ticket events carry it in `detail`: the core fields only (no custom fields), ids as
 * strings, status and priority upper-case.
 */
function eventDetail(t: FakeTicket): Record<string, unknown> {
  const id = (value: number | null) => (value === null ? null : String(value));
  return {
    actor_id: String(t.requesterId),
    assignee_id: id(t.assigneeId),
    brand_id: '1',
    created_at: iso(t.createdAt),
    custom_status: '1',
    description: t.description,
    external_id: null,
    form_id: '1',
    group_id: id(t.groupId),
    id: String(t.id),
    is_public: true,
    organization_id: null,
    priority: t.priority?.toUpperCase() ?? null,
    requester_id: String(t.requesterId),
    status: t.status.toUpperCase(),
    subject: t.subject,
    submitter_id: String(t.requesterId),
    tags: [...t.tags],
    type: null,
    updated_at: iso(t.updatedAt),
    via: { channel: t.channel },
  };
}

/** Like Zendesk's own cursors (base64 of `{updated_at}.0||{id}|`): opaque to clients. */
function encodeCursor(updatedAt: number, id: number): string {
  return Buffer.from(`${updatedAt}.0||${id}|`, 'utf8').toString('base64');
}

function decodeCursor(cursor: string): [number, number] {
  const match = /^(\d+)\.0\|\|(\d+)\|$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!match)
    throw new HttpError(400, { error: 'InvalidPaginationParameter', description: 'invalid cursor' });
  return [Number(match[1]), Number(match[2])];
}

function ticketInput(body: unknown): Record<string, unknown> {
  if (!isObject(body) || !isObject(body.ticket))
    throw new HttpError(400, { error: 'InvalidValue', description: 'ticket parameter is missing' });
  return body.ticket;
}

function customFieldInput(value: unknown): Record<number, string | number | null> {
  const out: Record<number, string | number | null> = {};
  if (!Array.isArray(value)) return out;
  for (const f of value) {
    if (isObject(f) && typeof f.id === 'number')
      out[f.id] = typeof f.value === 'string' || typeof f.value === 'number' ? f.value : null;
  }
  return out;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, { error: 'InvalidJSON', description: 'the request body is not JSON' });
  }
}

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
