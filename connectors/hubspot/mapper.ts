import { permanent } from '../_shared/errors';
import type { CrmContactRecord, CrmDealRecord } from '../_shared/records';
import type { HubspotObject } from './client';

/** What the mapper needs besides the vendor object. */
export interface MapOptions {
  /** The custom property carrying the Nerve request key. */
  requestKeyProperty: string;
}

/** Contact properties asked for, besides the request key property. */
export const CONTACT_PROPERTIES = [
  'email',
  'firstname',
  'lastname',
  'company',
  'lifecyclestage',
  'createdate',
  'lastmodifieddate',
] as const;

/** Deal properties asked for, besides the request key property. */
export const DEAL_PROPERTIES = [
  'dealname',
  'pipeline',
  'dealstage',
  'amount',
  'closedate',
  'hs_is_closed_won',
  'hs_is_closed',
  'createdate',
  'hs_lastmodifieddate',
] as const;

/**
 * A HubSpot contact as a CrmContactRecord. HubSpot sends every property value as a string or null; a
 * property missing or of the wrong shape becomes null, and `raw` keeps the whole object as received.
 */
export function mapContact(object: HubspotObject & { id: string }, options: MapOptions): CrmContactRecord {
  const p = propertiesOf(object);
  const updatedAt = lastModified(object, 'lastmodifieddate', 'contacts');
  return {
    kind: 'crm_contact',
    externalId: object.id,
    updatedAt,
    requestKey: text(p[options.requestKeyProperty]),
    raw: object,
    email: text(p.email),
    firstName: text(p.firstname),
    lastName: text(p.lastname),
    company: text(p.company),
    lifecycleStage: text(p.lifecyclestage),
    createdAt: created(object, updatedAt),
  };
}

/**
 * A HubSpot deal as a CrmDealRecord. `won` is null until HubSpot says the deal is closed; `closedAt` too,
 * because on an open deal `closedate` is the expected close date, not a fact (`raw` still has it).
 */
export function mapDeal(object: HubspotObject & { id: string }, options: MapOptions): CrmDealRecord {
  const p = propertiesOf(object);
  const updatedAt = lastModified(object, 'hs_lastmodifieddate', 'deals');
  const wonFlag = flag(p.hs_is_closed_won);
  // A deal that is won is closed even if hs_is_closed is missing; a "not won" one may still be open.
  const closed = flag(p.hs_is_closed) ?? (wonFlag === true ? true : null);
  return {
    kind: 'crm_deal',
    externalId: object.id,
    updatedAt,
    requestKey: text(p[options.requestKeyProperty]),
    raw: object,
    name: text(p.dealname),
    pipeline: text(p.pipeline),
    stage: text(p.dealstage),
    amount: amount(p.amount),
    won: closed === true ? wonFlag : null,
    closedAt: closed === true ? date(p.closedate) : null,
    createdAt: created(object, updatedAt),
  };
}

/** A property value as text: strings as they are (empty is null), numbers and booleans spelled out. */
export function text(value: unknown): string | null {
  if (typeof value === 'string') return value === '' ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return null;
}

/** A decimal property ("1250.50"); anything else ("n/a", "", "1,000") is null. */
export function amount(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string' || !/^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** HubSpot's boolean properties are the strings "true" and "false". */
export function flag(value: unknown): boolean | null {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return null;
}

/**
 * A datetime property: ISO 8601 as the v3 API sends it ("2024-01-01T10:00:00.000Z"), a date ("2024-01-01",
 * midnight UTC), or epoch milliseconds as the v1 API and some webhooks send it. Anything else is null.
 */
export function date(value: unknown): Date | null {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value !== 'string') return null;
  else if (/^\d{1,15}$/.test(value)) ms = Number(value);
  else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value))
    ms = Date.parse(value);
  else return null;
  return Number.isFinite(ms) ? new Date(ms) : null;
}

function propertiesOf(object: HubspotObject): Record<string, unknown> {
  const p = object.properties;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

/** The cursor property, else the object's `updatedAt`; a record with neither cannot be placed in time. */
function lastModified(object: HubspotObject & { id: string }, property: string, stream: string): Date {
  const at = date(propertiesOf(object)[property]) ?? date(object.updatedAt);
  if (!at) throw permanent(`HubSpot ${stream}: record ${object.id} has no ${property} nor updatedAt`);
  return at;
}

/** `createdate`, else the object's `createdAt`, else (never seen, but never a crash) its last change. */
function created(object: HubspotObject, updatedAt: Date): Date {
  return date(propertiesOf(object).createdate) ?? date(object.createdAt) ?? updatedAt;
}
