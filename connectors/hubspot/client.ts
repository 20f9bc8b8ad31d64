import type { ConnectorEnv } from '../_shared/contract';
import { ConnectorError, permanent, temporary } from '../_shared/errors';
import { HttpClient } from '../_shared/http';

/** The CRM object types the connector reads. */
export type HubspotObjectType = 'contacts' | 'deals';

export interface HubspotFilter {
  propertyName: string;
  operator: 'EQ' | 'GT' | 'GTE' | 'LT' | 'LTE';
  value: string;
}

/** The body of `POST /crm/v3/objects/{type}/search`. */
export interface HubspotSearchRequest {
  /** OR of groups; the filters of a group are ANDed. */
  filterGroups: { filters: HubspotFilter[] }[];
  /** HubSpot honours one sort. */
  sorts: { propertyName: string; direction: 'ASCENDING' | 'DESCENDING' }[];
  properties: string[];
  limit: number;
  after?: string;
}

/** A CRM object as the v3 API returns it: `{id, properties, createdAt, updatedAt, archived}`, kept whole. */
export type HubspotObject = Record<string, unknown>;

export interface HubspotSearchResponse {
  total: number | null;
  results: HubspotObject[];
  /** `paging.next.after`: HubSpot's own word that more results match; null when none do. */
  nextAfter: string | null;
}

export interface HubspotClientOptions {
  baseUrl: string;
  accessToken: string;
}

/**
 * The one place that knows HubSpot's wire and auth: CRM v3 over JSON with a private app token sent as
 * `Authorization: Bearer`. Rate limits (429 with policy TEN_SECONDLY_ROLLING and the like) are
 * TEMPORARY and retried by HttpClient, honouring `Retry-After`; a 429 with policy DAILY is PERMANENT,
 * since the quota only comes back at midnight in the account's time zone.
 */
export class HubspotClient {
  private readonly http: HttpClient;

  constructor(options: HubspotClientOptions, env: ConnectorEnv) {
    const token = options.accessToken;
    this.http = new HttpClient({
      ...env.http,
      vendor: 'HubSpot',
      baseUrl: options.baseUrl,
      // A private app token cannot be refreshed: after a 401 HttpClient asks once more with the same
      // token and then gives up, which is what a revoked or rotated token deserves.
      authorize: () => ({ authorization: `Bearer ${token}` }),
      classify: classifyFailure,
      secrets: [token],
    });
  }

  /** Reads one contact: proves the base URL, the token and the contacts scope. */
  async check(): Promise<void> {
    await this.call('GET', '/crm/v3/objects/contacts', 'check (list contacts)', 'contacts', { limit: 1 });
  }

  async search(type: HubspotObjectType, request: HubspotSearchRequest): Promise<HubspotSearchResponse> {
    const body = await this.call(
      'POST',
      `/crm/v3/objects/${type}/search`,
      `search ${type}`,
      type,
      undefined,
      request,
    );
    if (!isRecord(body) || !Array.isArray(body.results) || !body.results.every(isRecord))
      throw temporary(`HubSpot search ${type}: the reply has no list of results`);
    const next = isRecord(body.paging) && isRecord(body.paging.next) ? body.paging.next.after : undefined;
    return {
      total: typeof body.total === 'number' ? body.total : null,
      results: body.results,
      nextAfter: typeof next === 'string' || typeof next === 'number' ? String(next) : null,
    };
  }

  /**
   * `POST /crm/v3/objects/{type}/batch/read` for at most 100 ids. Ids HubSpot does not have (deleted,
   * merged away, never existed) are missing from the results, which it answers with a 207 and an
   * OBJECT_NOT_FOUND error; any other error in that list fails the read.
   */
  async batchRead(type: HubspotObjectType, ids: string[], properties: string[]): Promise<HubspotObject[]> {
    const operation = `read ${type} by id`;
    const body = await this.call(
      'POST',
      `/crm/v3/objects/${type}/batch/read`,
      operation,
      type,
      { archived: 'false' },
      { inputs: ids.map((id) => ({ id })), properties },
    );
    if (!isRecord(body) || !Array.isArray(body.results) || !body.results.every(isRecord))
      throw temporary(`HubSpot ${operation}: the reply has no list of results`);
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const failure = errors.find((e) => !isRecord(e) || e.category !== 'OBJECT_NOT_FOUND');
    if (failure !== undefined) {
      const category =
        isRecord(failure) && typeof failure.category === 'string' ? failure.category : 'unknown';
      throw permanent(`HubSpot ${operation}: the batch failed in part (${category.slice(0, 60)})`);
    }
    return body.results;
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    operation: string,
    type: HubspotObjectType,
    query?: Record<string, string | number>,
    json?: unknown,
  ): Promise<unknown> {
    try {
      return (await this.http.request({ method, path, query, json, operation })).body;
    } catch (error) {
      throw explain(error, operation, type);
    }
  }
}

/** HubSpot's 429 names the limit hit; only the daily one is worth no retry. */
function classifyFailure(status: number, body: unknown): ConnectorError | undefined {
  if (status === 429 && isRecord(body) && body.policyName === 'DAILY')
    return permanent(
      "HubSpot answered 429: the account's daily API limit is used up (policy DAILY); it resets at midnight in the account's time zone",
      { status },
    );
  return undefined;
}

/** Says what to do about refused credentials; the token itself is never part of a message. */
function explain(error: unknown, operation: string, type: HubspotObjectType): unknown {
  if (!(error instanceof ConnectorError) || error.kind !== 'PERMANENT') return error;
  if (error.details.status === 401)
    return permanent(
      `HubSpot ${operation} answered 401: the private app access token was refused (revoked, rotated or mistyped); store a current one in secrets.accessToken`,
      { status: 401, field: 'secrets.accessToken' },
    );
  if (error.details.status === 403)
    return permanent(
      `HubSpot ${operation} answered 403: the private app lacks the crm.objects.${type}.read scope`,
      { status: 403, field: 'secrets.accessToken' },
    );
  return error;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
