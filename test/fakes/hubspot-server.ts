import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { mulberry32 } from '../../src/common/random';
import { recordSecret } from '../support/run-record';
import { FaultInjector } from './faults';
import { closeServer, listenOnLoopback } from './loopback';
import { postWebhook, spoil } from './vendor-webhook';
import type { WebhookKnobs, WebhookSent } from './vendor-webhook';

export type FakeObjectType = 'contacts' | 'deals';

/** A CRM object as the fake stores it; every property value is a string or null, as in HubSpot. */
export interface FakeCrmObject {
  id: string;
  properties: Record<string, string | null>;
  /** Last modification, epoch ms (mirrored in the last-modified property and `updatedAt`). */
  modifiedMs: number;
  createdAt: string;
}

/** One request as the fake saw it, with a summary of a search body. */
export interface FakeHubspotRequest {
  method: string;
  path: string;
  /** `contacts` or `deals` for object routes. */
  objectType?: FakeObjectType;
  /** Search filters, one string per group: `lastmodifieddate GTE 1704067200000 AND hs_object_id GT 12`. */
  filters?: string[];
  sort?: string;
  limit?: number;
  after?: string;
  /** The status answered, or `fault` when the fault injector took the request. */
  outcome?: number | 'fault';
  /** Ids returned, for searches and lists that succeeded. */
  ids?: string[];
}

/** A batch of CRM events to send to a webhook, one per id, as HubSpot's Webhooks API does. */
export interface HubspotWebhookEvents extends WebhookKnobs {
  /** `contact.creation`, `deal.propertyChange`, `contact.deletion`, … */
  type: string;
  ids: string[];
  /** For `*.propertyChange`: the property that changed (its current value is sent). */
  propertyName?: string;
}

export interface FakeHubspotOptions {
  contacts?: number;
  deals?: number;
  /** The private app token accepted. Default `pat-na1-fake-token`. */
  token?: string;
  /** Seed of the generated data. */
  seed?: number;
  /** How many seeded records share each last-modified time (HubSpot bulk edits share one). Default 3. */
  tieGroup?: number;
}

const LAST_MODIFIED: Record<FakeObjectType, string> = {
  contacts: 'lastmodifieddate',
  deals: 'hs_lastmodifieddate',
};

/** Returned by a search whatever `properties` asks for, as HubSpot does. */
const DEFAULT_SEARCH_PROPERTIES: Record<FakeObjectType, string[]> = {
  contacts: ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
  deals: [
    'amount',
    'closedate',
    'createdate',
    'dealname',
    'dealstage',
    'hs_lastmodifieddate',
    'hs_object_id',
    'pipeline',
  ],
};

const DATETIME_PROPERTIES = new Set(['createdate', 'lastmodifieddate', 'hs_lastmodifieddate', 'closedate']);
const NUMBER_PROPERTIES = new Set(['hs_object_id', 'amount']);
const OPERATORS = new Set(['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'HAS_PROPERTY', 'NOT_HAS_PROPERTY']);

/** Seeded data starts here. */
export const FAKE_EPOCH_MS = Date.UTC(2024, 0, 1);

const PORTAL_ID = 62_515;
const APP_ID = 54_321;
/** HubSpot's batch endpoints take at most this many inputs. */
const BATCH_MAX = 100;
/** The percent-encodings HubSpot decodes in the URI it signs (signature v3). */
const SIGNED_URI_DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

class HubspotError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly category: string,
  ) {
    super(message);
  }
}

/**
 * HubSpot's CRM v3 on 127.0.0.1: list (`GET /crm/v3/objects/{type}`), search
 * (`POST /crm/v3/objects/{type}/search`) and batch read (`POST /crm/v3/objects/{type}/batch/read`, 207
 * with OBJECT_NOT_FOUND for ids it lacks) for contacts and deals, webhooks sent as the Webhooks API sends
 * them (`sendWebhook`), private app tokens as
 * `Authorization: Bearer`, HubSpot's error bodies, and the search API's habits: one sort, AND within a
 * filter group and OR across groups, `after` as an offset, `total`, and no results past `searchCap`
 * (10,000 in HubSpot; an `after` at or past it answers 400). Records sharing a sort value come back in
 * an order that is stable but not by id, since HubSpot promises none.
 *
 * `faults` is consulted on every `/crm/` request, after the body is read and logged.
 */
export class FakeHubspotServer {
  readonly faults = new FaultInjector();
  /** Every request, in order. */
  readonly requests: FakeHubspotRequest[] = [];
  readonly objects: Record<FakeObjectType, Map<string, FakeCrmObject>> = {
    contacts: new Map(),
    deals: new Map(),
  };
  /** The token accepted; `expireToken()` and `rotateToken()` change it. */
  token: string;
  /** HubSpot's search result cap; lower it to reach it in a test. */
  searchCap = 10_000;
  /**
   * Short pages: a search answers at most this many results whatever `limit` asks, with `paging.next`
   * while more match (HubSpot promises no page size; only `paging.next` says whether more follow).
   */
  maxResultsPerPage = Infinity;
  /**
   * The portal's schema changed: answers carry an unknown property `hs_new_score`, deal amounts read
   * "n/a", contact `createdate` reads "last tuesday", and `lifecyclestage` and `pipeline` are gone.
   */
  schemaChange = false;

  private readonly server: http.Server;
  private readonly hung = new Set<http.ServerResponse>();
  private nextId = 1;
  private nextEventId = 3_000_000_001;
  private clockMs: number;
  private address?: string;

  constructor(options: FakeHubspotOptions = {}) {
    this.token = options.token ?? 'pat-na1-fake-token';
    // The hub holds it as a connector credential: the suite's secret scan looks for it.
    recordSecret('HubSpot private app token', this.token);
    const random = mulberry32(options.seed ?? 7);
    const tieGroup = options.tieGroup ?? 3;
    let latest = FAKE_EPOCH_MS;
    for (const type of ['contacts', 'deals'] as const) {
      const count = options[type] ?? 0;
      for (let i = 0; i < count; i++) {
        const modifiedMs = FAKE_EPOCH_MS + Math.floor(i / tieGroup) * 1000 + 500;
        latest = Math.max(latest, modifiedMs);
        this.insert(type, seedProperties(type, i, random), FAKE_EPOCH_MS + i, modifiedMs);
      }
    }
    this.clockMs = latest;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on an ephemeral port of 127.0.0.1; resolves the base URL. */
  async start(): Promise<string> {
    const base = await listenOnLoopback(this.server);
    this.address = base;
    return this.address;
  }

  get url(): string {
    if (!this.address) throw new Error('the fake HubSpot server is not started');
    return this.address;
  }

  /** Stops listening and destroys every socket, hung responses included. */
  async close(): Promise<void> {
    await closeServer(this.server, this.hung);
  }

  /** Changes properties of one object, stamping it with a new, later last-modified time. */
  update(type: FakeObjectType, id: string, properties: Record<string, string | null>): FakeCrmObject {
    return this.bulkUpdate(type, [id], properties)[0];
  }

  /** Changes objects in one bulk edit: they all share one new last-modified time, as in HubSpot. */
  bulkUpdate(
    type: FakeObjectType,
    ids: string[],
    properties: Record<string, string | null>,
  ): FakeCrmObject[] {
    const at = this.tick();
    return ids.map((id) => {
      const object = this.objects[type].get(id);
      if (!object) throw new Error(`fake HubSpot: no ${type} ${id}`);
      Object.assign(object.properties, properties);
      this.stamp(type, object, at);
      return object;
    });
  }

  /** Creates an object now. */
  create(type: FakeObjectType, properties: Record<string, string | null>): FakeCrmObject {
    const at = this.tick();
    return this.insert(type, properties, at, at);
  }

  /** The token is revoked: every later call answers 401. */
  expireToken(): void {
    this.token = `revoked-${randomUUID()}`;
  }

  /** A new token replaces the old one. */
  rotateToken(next: string): void {
    this.token = next;
    recordSecret('HubSpot private app token', next);
  }

  /**
   * Sends one event per id to a webhook URL, in one request, as HubSpot does: a JSON array of
   * `{eventId, subscriptionId, portalId, appId, occurredAt, subscriptionType, attemptNumber, objectId,
   * changeSource, …}`, signed per v3 as `base64(HMAC-SHA256(secret, method + uri + body + timestamp))`
   * (the URI with HubSpot's table of characters decoded) in `X-HubSpot-Signature-v3`, the timestamp
   * (epoch ms) in `X-HubSpot-Request-Timestamp`, and the v1 signature HubSpot still sends beside it.
   */
  async sendWebhook(url: string, secret: string, events: HubspotWebhookEvents): Promise<WebhookSent> {
    // The hub holds it as a connector secret: the suite's secret scan looks for it.
    recordSecret('HubSpot app client secret', secret);
    const [prefix, action] = events.type.split('.');
    const type: FakeObjectType = prefix === 'deal' ? 'deals' : 'contacts';
    const at = events.at ?? new Date();
    const batch = events.ids.map((id) => {
      const object = this.objects[type].get(id);
      const event: Record<string, unknown> = {
        eventId: this.nextEventId++,
        subscriptionId: prefix === 'deal' ? 12_346 : 12_345,
        portalId: PORTAL_ID,
        appId: APP_ID,
        occurredAt: object?.modifiedMs ?? at.getTime(),
        subscriptionType: events.type,
        attemptNumber: 0,
        objectId: Number(id),
        changeSource: 'CRM_UI',
        sourceId: 'userId:45678',
      };
      if (action === 'propertyChange') {
        const name = events.propertyName ?? LAST_MODIFIED[type];
        Object.assign(event, { propertyName: name, propertyValue: object?.properties[name] ?? '' });
      }
      if (action === 'creation') event.changeFlag = 'CREATED';
      return event;
    });
    const body = JSON.stringify(batch);
    const timestamp = String(at.getTime());
    const uri = url.replace(
      /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi,
      (e) => SIGNED_URI_DECODED[e.toUpperCase()],
    );
    const v3 = createHmac('sha256', secret).update(`POST${uri}${body}${timestamp}`).digest('base64');
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon-executor',
      'x-hubspot-request-timestamp': timestamp,
      'x-hubspot-signature-v3': events.badSignature ? spoil(v3) : v3,
      'x-hubspot-signature': createHash('sha256')
        .update(secret + body)
        .digest('hex'),
      'x-hubspot-signature-version': 'v1',
    };
    return postWebhook(
      url,
      headers,
      body,
      batch.map((e) => String(e.eventId)),
      events.times,
    );
  }

  /** The object as the API would send it now (schema change included), with all its properties. */
  wire(type: FakeObjectType, object: FakeCrmObject, properties?: string[]): Record<string, unknown> {
    const names = properties
      ? [...new Set([...DEFAULT_SEARCH_PROPERTIES[type], ...properties])]
      : Object.keys(object.properties);
    const out: Record<string, string | null> = {};
    for (const name of names) out[name] = object.properties[name] ?? null;
    if (this.schemaChange) {
      out.hs_new_score = '42';
      if (type === 'deals') {
        out.amount = 'n/a';
        delete out.pipeline;
      } else {
        out.createdate = 'last tuesday';
        delete out.lifecyclestage;
      }
    }
    return {
      id: object.id,
      properties: out,
      createdAt: object.createdAt,
      updatedAt: new Date(object.modifiedMs).toISOString(),
      archived: false,
    };
  }

  /** Strictly increasing, and after every seeded time. */
  private tick(): number {
    this.clockMs += 1000;
    return this.clockMs;
  }

  private insert(
    type: FakeObjectType,
    properties: Record<string, string | null>,
    createdMs: number,
    modifiedMs: number,
  ): FakeCrmObject {
    const id = String(this.nextId++);
    const object: FakeCrmObject = {
      id,
      properties: { ...properties, hs_object_id: id, createdate: new Date(createdMs).toISOString() },
      modifiedMs,
      createdAt: new Date(createdMs).toISOString(),
    };
    this.stamp(type, object, modifiedMs);
    this.objects[type].set(id, object);
    return object;
  }

  private stamp(type: FakeObjectType, object: FakeCrmObject, at: number): void {
    object.modifiedMs = at;
    object.properties[LAST_MODIFIED[type]] = new Date(at).toISOString();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const entry: FakeHubspotRequest = { method: req.method ?? 'GET', path: url.pathname };
    this.requests.push(entry);
    try {
      const raw = await readBody(req);
      const route = /^\/crm\/v3\/objects\/(contacts|deals)(\/search|\/batch\/read)?$/.exec(url.pathname);
      if (route) entry.objectType = route[1] as FakeObjectType;
      let body: unknown = undefined;
      if (route?.[2]) {
        body = parseJson(raw);
        summarise(entry, body);
      }
      if (url.pathname.startsWith('/crm/') && this.faults.apply(res, this.hung)) {
        entry.outcome = 'fault';
        return;
      }
      if (req.headers.authorization !== `Bearer ${this.token}`)
        throw new HubspotError(
          401,
          'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          'INVALID_AUTHENTICATION',
        );
      if (!route)
        throw new HubspotError(404, `No route for ${entry.method} ${url.pathname}`, 'OBJECT_NOT_FOUND');
      const type = route[1] as FakeObjectType;
      if (route[2] === '/batch/read') {
        if (entry.method !== 'POST') throw new HubspotError(405, 'Method not allowed', 'VALIDATION_ERROR');
        const read = this.batchRead(type, body);
        this.answer(res, entry, read, read.errors ? 207 : 200);
      } else if (route[2]) {
        if (entry.method !== 'POST') throw new HubspotError(405, 'Method not allowed', 'VALIDATION_ERROR');
        this.answer(res, entry, this.search(type, body));
      } else {
        if (entry.method !== 'GET') throw new HubspotError(405, 'Method not allowed', 'VALIDATION_ERROR');
        this.answer(res, entry, this.list(type, url.searchParams));
      }
    } catch (error) {
      if (res.headersSent || res.destroyed) return;
      const e =
        error instanceof HubspotError ? error : new HubspotError(500, 'internal error', 'INTERNAL_ERROR');
      entry.outcome = e.status;
      res.writeHead(e.status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'error',
          message: e.message,
          correlationId: randomUUID(),
          category: e.category,
        }),
      );
    }
  }

  private answer(
    res: http.ServerResponse,
    entry: FakeHubspotRequest,
    body: { results: Record<string, unknown>[] },
    status = 200,
  ): void {
    entry.outcome = status;
    entry.ids = body.results.map((r) => String(r.id));
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  /** `POST /crm/v3/objects/{type}/batch/read`: by id; ids it lacks are named in an OBJECT_NOT_FOUND error. */
  private batchRead(
    type: FakeObjectType,
    body: unknown,
  ): { results: Record<string, unknown>[]; errors?: Record<string, unknown>[] } {
    const inputs = isRecord(body) ? body.inputs : undefined;
    if (!Array.isArray(inputs)) throw new HubspotError(400, 'Invalid input JSON', 'VALIDATION_ERROR');
    if (inputs.length > BATCH_MAX)
      throw new HubspotError(400, `Batch input is limited to ${BATCH_MAX} inputs`, 'VALIDATION_ERROR');
    const ids = inputs.map((input) => {
      if (!isRecord(input) || typeof input.id !== 'string')
        throw new HubspotError(400, 'Each input needs an id', 'VALIDATION_ERROR');
      return input.id;
    });
    const properties = isRecord(body) && Array.isArray(body.properties) ? body.properties.map(String) : [];
    const at = new Date().toISOString();
    const found = ids.filter((id) => this.objects[type].has(id));
    const missing = ids.filter((id) => !this.objects[type].has(id));
    const noun = type === 'contacts' ? 'CONTACT' : 'DEAL';
    return {
      status: 'COMPLETE',
      results: found.map((id) => this.wire(type, this.objects[type].get(id) as FakeCrmObject, properties)),
      startedAt: at,
      completedAt: at,
      ...(missing.length > 0
        ? {
            numErrors: 1,
            errors: [
              {
                status: 'error',
                category: 'OBJECT_NOT_FOUND',
                message: `Could not get some ${noun} objects, they may be deleted or not exist. Check that ids are valid.`,
                context: { ids: missing },
              },
            ],
          }
        : {}),
    } as { results: Record<string, unknown>[]; errors?: Record<string, unknown>[] };
  }

  /** `GET /crm/v3/objects/{type}`: by id, `after` is the last id returned. */
  private list(type: FakeObjectType, params: URLSearchParams): { results: Record<string, unknown>[] } {
    const limit = Number(params.get('limit') ?? 10);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new HubspotError(400, 'limit must be between 1 and 100', 'VALIDATION_ERROR');
    const after = Number(params.get('after') ?? 0);
    const properties = params.get('properties')?.split(',').filter(Boolean) ?? [];
    const sorted = [...this.objects[type].values()]
      .filter((o) => Number(o.id) > after)
      .sort((a, b) => Number(a.id) - Number(b.id));
    const page = sorted.slice(0, limit);
    const results = page.map((o) => this.wire(type, o, properties));
    const more = sorted.length > limit;
    const last = page[page.length - 1]?.id;
    return {
      results,
      ...(more && last
        ? { paging: { next: { after: last, link: `${this.url}/crm/v3/objects/${type}?after=${last}` } } }
        : {}),
    };
  }

  private search(type: FakeObjectType, body: unknown): { total: number; results: Record<string, unknown>[] } {
    if (!isRecord(body)) throw new HubspotError(400, 'Invalid input JSON', 'VALIDATION_ERROR');
    const groups = (body.filterGroups ?? []) as unknown;
    if (!Array.isArray(groups) || groups.length > 5)
      throw new HubspotError(400, 'filterGroups must be a list of at most 5 groups', 'VALIDATION_ERROR');
    const predicates = groups.map((group) => {
      const filters = isRecord(group) ? group.filters : undefined;
      if (!Array.isArray(filters) || filters.length > 10)
        throw new HubspotError(400, 'a filter group holds at most 10 filters', 'VALIDATION_ERROR');
      const tests = filters.map((f) => filterTest(f));
      return (o: FakeCrmObject) => tests.every((t) => t(o));
    });
    const sorts = (body.sorts ?? []) as unknown;
    if (!Array.isArray(sorts) || sorts.length > 1)
      throw new HubspotError(400, 'Only one sort is supported', 'VALIDATION_ERROR');
    const limit = body.limit ?? 10;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 200)
      throw new HubspotError(400, 'limit must be between 1 and 200', 'VALIDATION_ERROR');
    const offset = body.after === undefined ? 0 : Number(body.after);
    if (!Number.isInteger(offset) || offset < 0)
      throw new HubspotError(400, `Invalid after value: ${String(body.after)}`, 'VALIDATION_ERROR');
    if (offset >= this.searchCap)
      throw new HubspotError(
        400,
        `Cannot page beyond ${this.searchCap} results; narrow the search with filters`,
        'VALIDATION_ERROR',
      );
    const properties = Array.isArray(body.properties) ? body.properties.map(String) : [];

    let matched = [...this.objects[type].values()];
    if (predicates.length > 0) matched = matched.filter((o) => predicates.some((p) => p(o)));
    const sort = sorts[0] as unknown;
    if (sort !== undefined) {
      const name = isRecord(sort) ? sort.propertyName : sort;
      if (typeof name !== 'string')
        throw new HubspotError(400, 'sorts need a propertyName', 'VALIDATION_ERROR');
      const sign = isRecord(sort) && sort.direction === 'DESCENDING' ? -1 : 1;
      matched.sort(
        (a, b) =>
          sign * compareValues(a.properties[name], b.properties[name], name) || scramble(a) - scramble(b),
      );
    } else {
      matched.sort((a, b) => Number(a.id) - Number(b.id));
    }
    const page = matched.slice(
      offset,
      Math.min(offset + limit, offset + this.maxResultsPerPage, this.searchCap),
    );
    const end = offset + page.length;
    return {
      total: matched.length,
      results: page.map((o) => this.wire(type, o, properties)),
      ...(end < matched.length ? { paging: { next: { after: String(end) } } } : {}),
    } as { total: number; results: Record<string, unknown>[] };
  }
}

/** A filter as a test on an object, HubSpot-style: datetimes by epoch ms, ids and amounts as numbers. */
function filterTest(filter: unknown): (o: FakeCrmObject) => boolean {
  if (!isRecord(filter) || typeof filter.propertyName !== 'string' || typeof filter.operator !== 'string')
    throw new HubspotError(400, 'a filter needs propertyName and operator', 'VALIDATION_ERROR');
  const { propertyName: name, operator } = filter;
  if (!OPERATORS.has(operator))
    throw new HubspotError(400, `Unsupported operator ${operator}`, 'VALIDATION_ERROR');
  if (operator === 'HAS_PROPERTY') return (o) => (o.properties[name] ?? null) !== null;
  if (operator === 'NOT_HAS_PROPERTY') return (o) => (o.properties[name] ?? null) === null;
  if (filter.value === undefined)
    throw new HubspotError(400, `filter on ${name} needs a value`, 'VALIDATION_ERROR');
  const value = String(filter.value);
  if ((DATETIME_PROPERTIES.has(name) || NUMBER_PROPERTIES.has(name)) && Number.isNaN(toNumber(value, name)))
    throw new HubspotError(400, `${value} is not a valid value for ${name}`, 'VALIDATION_ERROR');
  return (o) => {
    const actual = o.properties[name] ?? null;
    if (actual === null) return operator === 'NEQ';
    const c = compareValues(actual, value, name);
    switch (operator) {
      case 'EQ':
        return c === 0;
      case 'NEQ':
        return c !== 0;
      case 'GT':
        return c > 0;
      case 'GTE':
        return c >= 0;
      case 'LT':
        return c < 0;
      default:
        return c <= 0;
    }
  };
}

function toNumber(value: string, name: string): number {
  if (DATETIME_PROPERTIES.has(name)) return /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number(value);
}

/** Nulls sort first. */
function compareValues(a: string | null | undefined, b: string | null | undefined, name: string): number {
  if (a == null || b == null) return (a == null ? 0 : 1) - (b == null ? 0 : 1);
  if (DATETIME_PROPERTIES.has(name) || NUMBER_PROPERTIES.has(name)) {
    const x = toNumber(a, name);
    const y = toNumber(b, name);
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stable order for ties that is not id order. */
const scramble = (o: FakeCrmObject): number => Math.imul(Number(o.id), 2654435761) >>> 0;

const STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'contractsent', 'closedwon', 'closedlost'];
const LIFECYCLE = ['subscriber', 'lead', 'marketingqualifiedlead', 'opportunity', 'customer'];

function seedProperties(
  type: FakeObjectType,
  i: number,
  random: () => number,
): Record<string, string | null> {
  const requestKey = i % 7 === 0 ? `req-${type}-${i}` : null;
  if (type === 'contacts')
    return {
      email: `contact${i}@example.com`,
      firstname: `First${i}`,
      lastname: i % 11 === 0 ? null : `Last${i}`,
      company: i % 5 === 0 ? null : `Company ${i % 40}`,
      lifecyclestage: LIFECYCLE[Math.floor(random() * LIFECYCLE.length)],
      nerve_request_key: requestKey,
    };
  const stage = STAGES[Math.floor(random() * STAGES.length)];
  const closed = stage === 'closedwon' || stage === 'closedlost';
  return {
    dealname: `Deal ${i}`,
    pipeline: 'default',
    dealstage: stage,
    amount: i % 13 === 0 ? null : (Math.round(random() * 1_000_000) / 100).toFixed(2),
    closedate: new Date(FAKE_EPOCH_MS + 86_400_000 * (30 + (i % 90))).toISOString(),
    hs_is_closed: String(closed),
    hs_is_closed_won: String(stage === 'closedwon'),
    nerve_request_key: requestKey,
  };
}

function summarise(entry: FakeHubspotRequest, body: unknown): void {
  if (!isRecord(body)) return;
  if (Array.isArray(body.filterGroups))
    entry.filters = body.filterGroups.map((g) =>
      isRecord(g) && Array.isArray(g.filters)
        ? g.filters
            .map((f) =>
              isRecord(f) ? `${String(f.propertyName)} ${String(f.operator)} ${String(f.value)}` : '?',
            )
            .join(' AND ')
        : '?',
    );
  if (Array.isArray(body.sorts) && body.sorts.length > 0) {
    const s = body.sorts[0] as unknown;
    entry.sort = isRecord(s) ? `${String(s.propertyName)} ${String(s.direction ?? 'ASCENDING')}` : String(s);
  }
  if (typeof body.limit === 'number') entry.limit = body.limit;
  if (body.after !== undefined) entry.after = String(body.after);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
