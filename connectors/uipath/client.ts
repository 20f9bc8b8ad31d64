import type { ConnectorEnv } from '../_shared/contract';
import { ConnectorError, badField, permanent, temporary } from '../_shared/errors';
import { HttpClient } from '../_shared/http';

const VENDOR = 'UiPath Orchestrator';
/** Orchestrator's custom error codes (API guide, "Response Codes"). */
const ERROR_NO_FOLDER = 1101;
const ERROR_DUPLICATE_REFERENCE = 1016;

/** What the client needs; built from validated config and secrets. */
export interface UiPathClientOptions {
  orchestratorUrl: string;
  identityUrl: string;
  folderId: number;
  scope: string;
  clientId: string;
  clientSecret: string;
  env: ConnectorEnv;
}

/** One OData collection page as Orchestrator sends it. */
export interface ODataPage {
  value: Record<string, unknown>[];
  count: number | undefined;
  /** `@odata.nextLink`: the server capped the page and more rows match. */
  hasNextLink: boolean;
}

/**
 * Whether rows remain after this page, by the server's own signals: a next link (server-driven paging
 * may serve fewer rows than `$top`), else `@odata.count` when asked for; a short page alone proves nothing
 * when the server caps pages, and a full one without either signal is read on to be safe.
 */
export function moreAfter(page: ODataPage, top: number): boolean {
  if (page.hasNextLink) return true;
  if (page.count !== undefined) return page.count > page.value.length;
  return page.value.length >= top;
}

/** The collections the streams read. */
export type StreamEntity = 'Jobs' | 'QueueItems';

/** A position in (LastModificationTime, Id) order; `at` exactly as Orchestrator sent it. */
export interface Keyset {
  at: string;
  id: number;
}

/** Jobs list without their robot unless asked. */
const EXPANDS: Record<StreamEntity, string | undefined> = { Jobs: 'Robot', QueueItems: undefined };
/** An OData DateTimeOffset literal; nothing else is pasted into a filter unquoted. */
const ODATA_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})$/;

/** What an OData collection read asks for. */
interface ODataQuery {
  filter?: string;
  orderby?: string;
  top: number;
  expand?: string;
  count?: boolean;
}

/** The queue already holds an item with this reference (queues with unique references). */
export class DuplicateReferenceError extends ConnectorError {
  constructor() {
    super('PERMANENT', `${VENDOR} add queue item: the queue already holds an item with this reference`, {
      status: 409,
    });
  }
}

interface CachedToken {
  value: string;
  /** When to stop using it (a margin before its expiry), by env.now(). */
  renewAt: number;
}

/**
 * The only code that knows UiPath's wire and auth: OAuth client credentials against the Identity Server
 * (`{identityUrl}/connect/token`), a bearer token cached until shortly before it expires and renewed once
 * on a 401, and Orchestrator's OData endpoints scoped to one folder by `X-UIPATH-OrganizationUnitId`.
 */
export class UiPathClient {
  private readonly orchestrator: HttpClient;
  /** For AddQueueItem: no automatic retries, so a lost reply is never blindly re-sent (see `addQueueItem`). */
  private readonly orchestratorOnce: HttpClient;
  private readonly identity: HttpClient;
  private token: CachedToken | undefined;
  private pendingToken: Promise<CachedToken> | undefined;

  constructor(private readonly options: UiPathClientOptions) {
    // The client secret is scrubbed from Orchestrator's errors too, though only the Identity Server is sent it.
    const http = { ...options.env.http, secrets: [options.clientSecret] };
    const authorize = (refresh: boolean): Promise<Record<string, string>> => this.authorization(refresh);
    const classify = (status: number, body: unknown): ConnectorError | undefined =>
      this.classifyOrchestrator(status, body);
    this.orchestrator = new HttpClient({
      ...http,
      vendor: VENDOR,
      baseUrl: options.orchestratorUrl,
      authorize,
      classify,
    });
    this.orchestratorOnce = new HttpClient({
      ...http,
      maxRetries: 0,
      vendor: VENDOR,
      baseUrl: options.orchestratorUrl,
      authorize,
      classify,
    });
    this.identity = new HttpClient({
      ...http,
      vendor: 'UiPath Identity',
      baseUrl: options.identityUrl,
      classify: (status, body) => classifyIdentity(status, body),
    });
  }

  /** Proves the credentials, scopes and folder: one tiny read of each stream's collection. */
  async check(): Promise<void> {
    await this.list('Jobs', { top: 1 }, 'check jobs');
    await this.list('QueueDefinitions', { top: 1 }, 'check queues');
  }

  /**
   * Rows never modified since they were created: Orchestrator (an ABP application) leaves
   * `LastModificationTime` null until the first update, so a filter on it alone would never see them.
   * Keyset on Id, which Orchestrator assigns ascending.
   */
  neverModified(entity: StreamEntity, afterId: number, top: number): Promise<ODataPage> {
    return this.list(
      entity,
      {
        filter: `LastModificationTime eq null and Id gt ${afterId}`,
        orderby: 'Id asc',
        top,
        expand: EXPANDS[entity],
        count: true,
      },
      `list ${entity} (never modified)`,
    );
  }

  /**
   * Rows modified after a keyset position, in (LastModificationTime, Id) order.
   *
   * Keyset, not `$skip`: over a set ordered by modification time, a row modified mid-sync jumps to the
   * end and every later offset shifts back by one, so offset paging would skip a row per modification.
   * With the keyset a modified row only moves ahead of the cursor, where this sync (or the next) reads
   * it; rows sharing one time are split by Id, so a page may end inside a tie. The time literal is sent
   * exactly as Orchestrator wrote it (100 ns precision), never via a millisecond Date.
   */
  modifiedAfter(entity: StreamEntity, after: Keyset | null, top: number): Promise<ODataPage> {
    if (after !== null && !ODATA_TIME.test(after.at))
      throw permanent(
        `${VENDOR} ${entity}: the saved cursor time "${after.at.slice(0, 40)}" is not a timestamp`,
      );
    const filter =
      after === null
        ? 'LastModificationTime ne null'
        : `(LastModificationTime gt ${after.at}) or (LastModificationTime eq ${after.at} and Id gt ${after.id})`;
    return this.list(
      entity,
      { filter, orderby: 'LastModificationTime asc,Id asc', top, expand: EXPANDS[entity], count: true },
      `list ${entity}`,
    );
  }

  /** QueueDefinitionId → name for every queue of the folder. */
  async queueNames(): Promise<Map<number, string>> {
    const names = new Map<number, string>();
    let after = 0;
    for (;;) {
      const page = await this.list(
        'QueueDefinitions',
        { filter: `Id gt ${after}`, orderby: 'Id asc', top: 1000, count: true },
        'list queues',
      );
      for (const q of page.value) {
        if (typeof q.Id === 'number' && typeof q.Name === 'string') names.set(q.Id, q.Name);
      }
      const last = page.value.at(-1)?.Id;
      if (!moreAfter(page, 1000) || typeof last !== 'number') return names;
      after = last;
    }
  }

  /** The folder's queue with this name (Orchestrator matches queue names case-insensitively). */
  async findQueue(name: string): Promise<{ id: number; name: string } | undefined> {
    const page = await this.list(
      'QueueDefinitions',
      { filter: `Name eq ${literal(name)}`, top: 2 },
      'find queue',
    );
    const queue = page.value.find((q) => typeof q.Id === 'number');
    return queue ? { id: queue.Id as number, name: String(queue.Name ?? name) } : undefined;
  }

  /** The oldest item of a queue with this reference, if any. */
  async findQueueItem(queueId: number, reference: string): Promise<Record<string, unknown> | undefined> {
    const page = await this.list(
      'QueueItems',
      {
        filter: `QueueDefinitionId eq ${queueId} and Reference eq ${literal(reference)}`,
        orderby: 'Id asc',
        top: 1,
      },
      'find queue item by reference',
    );
    return page.value[0];
  }

  /** The keyset position of a row as Orchestrator sent it. */
  static keyset(raw: Record<string, unknown>): { at: string | null; id: number | undefined } {
    const at = raw.LastModificationTime;
    const id = raw.Id;
    return {
      at: typeof at === 'string' ? at : null,
      id: typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined,
    };
  }

  private async list(entity: string, query: ODataQuery, operation: string): Promise<ODataPage> {
    const res = await this.orchestrator.request<unknown>({
      path: `/odata/${entity}`,
      query: {
        $filter: query.filter,
        $orderby: query.orderby,
        $top: query.top,
        $expand: query.expand,
        $count: query.count ? true : undefined,
      },
      headers: this.folderHeader(),
      operation,
    });
    const body = res.body as {
      value?: unknown;
      '@odata.count'?: unknown;
      '@odata.nextLink'?: unknown;
    } | null;
    if (typeof body !== 'object' || body === null || !Array.isArray(body.value))
      throw temporary(`${VENDOR} ${operation}: the reply has no OData "value" array`, { status: res.status });
    const count = body['@odata.count'];
    return {
      value: body.value.map((v: unknown) =>
        typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {},
      ),
      count: typeof count === 'number' ? count : undefined,
      hasNextLink: typeof body['@odata.nextLink'] === 'string' && body['@odata.nextLink'] !== '',
    };
  }

  /**
   * POST `Queues/UiPathODataSvc.AddQueueItem` once, without retries: the caller decides what a failure
   * means, since a reply lost after Orchestrator stored the item would make a blind retry add a second one.
   * A duplicate reference throws DuplicateReferenceError.
   */
  async addQueueItem(itemData: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await this.orchestratorOnce.request<unknown>({
      method: 'POST',
      path: '/odata/Queues/UiPathODataSvc.AddQueueItem',
      json: { itemData },
      headers: this.folderHeader(),
      operation: 'add queue item',
    });
    if (typeof res.body !== 'object' || res.body === null || Array.isArray(res.body))
      throw permanent(`${VENDOR} add queue item: the reply is not a queue item`, { status: res.status });
    return res.body as Record<string, unknown>;
  }

  private folderHeader(): Record<string, string> {
    return { 'X-UIPATH-OrganizationUnitId': String(this.options.folderId) };
  }

  private async authorization(refresh: boolean): Promise<Record<string, string>> {
    const now = this.options.env.now().getTime();
    if (refresh || !this.token || now >= this.token.renewAt) {
      if (refresh) this.token = undefined;
      // One token request at a time, shared by whoever needs it meanwhile.
      this.pendingToken ??= this.fetchToken().finally(() => (this.pendingToken = undefined));
      this.token = await this.pendingToken;
    }
    return { authorization: `Bearer ${this.token.value}` };
  }

  private async fetchToken(): Promise<CachedToken> {
    const res = await this.identity.request<unknown>({
      method: 'POST',
      path: '/connect/token',
      form: {
        grant_type: 'client_credentials',
        client_id: this.options.clientId,
        client_secret: this.options.clientSecret,
        scope: this.options.scope,
      },
      authorize: false,
      operation: 'token request',
    });
    const body = res.body as { access_token?: unknown; expires_in?: unknown } | null;
    if (typeof body?.access_token !== 'string' || body.access_token === '')
      throw permanent('UiPath Identity token request: the reply carries no access_token', {
        status: res.status,
      });
    const ttlMs =
      (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600) * 1000;
    // Renew a minute early (or halfway, for short-lived tokens) so a request never leaves with a dying token.
    const margin = Math.min(60_000, ttlMs / 2);
    return { value: body.access_token, renewAt: this.options.env.now().getTime() + ttlMs - margin };
  }

  private classifyOrchestrator(status: number, body: unknown): ConnectorError | undefined {
    const code = errorCode(body);
    if (code === ERROR_DUPLICATE_REFERENCE) return new DuplicateReferenceError();
    const message = errorMessage(body);
    if (status === 400 && (code === ERROR_NO_FOLDER || /folder/i.test(message ?? '')))
      return badField(
        'config.folderId',
        `${VENDOR} refused folder ${this.options.folderId}: ${message ?? `error ${code ?? status}`}`,
      );
    return undefined;
  }
}

/** The Identity Server answers OAuth errors (`{error}`); bad credentials never name the secret. */
function classifyIdentity(status: number, body: unknown): ConnectorError | undefined {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  if (error === 'invalid_client' || (status === 401 && error === undefined))
    return permanent(
      'UiPath Identity token request: the client credentials were refused (invalid_client); check clientId and clientSecret',
    );
  if (error === 'invalid_scope')
    return badField(
      'config.scope',
      'UiPath Identity refused the scope: the external application was not granted it',
    );
  if (error === 'unauthorized_client')
    return permanent('UiPath Identity token request: the application may not use client credentials');
  return undefined;
}

function errorCode(body: unknown): number | undefined {
  const code =
    typeof body === 'object' && body !== null ? (body as { errorCode?: unknown }).errorCode : undefined;
  return typeof code === 'number' ? code : undefined;
}

function errorMessage(body: unknown): string | undefined {
  const message =
    typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message.slice(0, 200) : undefined;
}

/** An OData string literal: quotes doubled. */
const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;
