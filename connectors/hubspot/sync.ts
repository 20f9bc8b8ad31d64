import type { Page, StreamDescriptor, StreamState } from '../_shared/contract';
import { permanent, temporary } from '../_shared/errors';
import type { SyncedRecord } from '../_shared/records';
import type { HubspotClient, HubspotObject, HubspotObjectType, HubspotSearchRequest } from './client';
import type { MapOptions } from './mapper';
import { CONTACT_PROPERTIES, DEAL_PROPERTIES, date, mapContact, mapDeal } from './mapper';

/** A stream: its descriptor and how to read and map it. */
export interface HubspotStream {
  descriptor: StreamDescriptor;
  objectType: HubspotObjectType;
  /** The last-modified property the cursor follows (and the search filters and sorts on). */
  cursorProperty: string;
  properties: readonly string[];
  map(object: HubspotObject & { id: string }, options: MapOptions): SyncedRecord;
}

export const STREAMS: HubspotStream[] = [
  {
    descriptor: {
      name: 'contacts',
      recordKind: 'crm_contact',
      primaryKey: 'id',
      cursorField: 'lastmodifieddate',
    },
    objectType: 'contacts',
    cursorProperty: 'lastmodifieddate',
    properties: CONTACT_PROPERTIES,
    map: mapContact,
  },
  {
    descriptor: {
      name: 'deals',
      recordKind: 'crm_deal',
      primaryKey: 'id',
      cursorField: 'hs_lastmodifieddate',
    },
    objectType: 'deals',
    cursorProperty: 'hs_lastmodifieddate',
    properties: DEAL_PROPERTIES,
    map: mapDeal,
  },
];

/**
 * A stream's position. Every record last modified before `since` (epoch ms) has been read. With
 * `tieAfterId` set, the records modified exactly at `since` are being read in id order and those with an
 * id up to `tieAfterId` are done too.
 */
export interface HubspotPosition {
  since: number;
  tieAfterId: string | null;
}

/** Empty pages with a next link followed in a row before the read gives up (a vendor gone astray). */
const EMPTY_PAGES_FOLLOWED = 10;

export interface ReadOptions extends MapOptions {
  pageSize: number;
}

/**
 * Reads a stream incrementally, one search per page, each yielded with the position after it.
 *
 * Pages are keyset pages, not HubSpot's `after` offsets: each search asks again for the records modified
 * at or after the newest one seen (GTE), ascending. Offsets shift when a record already read is modified
 * during the sync (it moves to the end and the one after it slides into the page already read, to be
 * skipped for good), and an offset past 10,000 is refused with a 400. A keyset search has neither
 * problem; its cost is re-reading the records that share the page's newest timestamp, which upserts make
 * harmless.
 *
 * Only `paging.next` says more results match: HubSpot may serve fewer than `limit` with more to come, so
 * a short page is never taken for the end.
 *
 * When a page with more to come shares a single timestamp (a bulk update), GTE cannot move on; the records of that
 * instant are then read by `hs_object_id` order (timestamp equal, id greater than the last one read),
 * which always progresses, and the range resumes after that millisecond. HubSpot datetimes have
 * millisecond precision, so "after T" is "at or after T + 1".
 */
export async function* readStream(
  client: HubspotClient,
  stream: HubspotStream,
  state: StreamState | null,
  options: ReadOptions,
): AsyncGenerator<Page> {
  let position = parsePosition(stream.descriptor.name, state);
  const properties = [...new Set([...stream.properties, options.requestKeyProperty])];
  for (;;) {
    const tie = position.tieAfterId !== null;
    const request = tie
      ? tieSearch(stream, position.since, position.tieAfterId as string, properties, options.pageSize)
      : rangeSearch(stream, position.since, properties, options.pageSize);
    let { results, nextAfter } = await client.search(stream.objectType, request);
    // An empty page that still says more follow makes no keyset progress: follow HubSpot's own offset
    // within this search until a page holds something or the search ends.
    for (let skipped = 0; results.length === 0 && nextAfter !== null; skipped++) {
      if (skipped >= EMPTY_PAGES_FOLLOWED)
        throw temporary(
          `HubSpot search ${stream.objectType}: ${skipped} empty pages in a row still say more results follow`,
        );
      ({ results, nextAfter } = await client.search(stream.objectType, { ...request, after: nextAfter }));
    }
    const objects = results.map((object, i) => withId(object, stream, position, i));
    const records = objects.map((object) => stream.map(object, options));
    // `paging.next` is HubSpot's only end signal: it may serve fewer results than `limit` with more to come.
    const more = nextAfter !== null;

    let next: HubspotPosition;
    let done = false;
    if (tie) {
      next = more
        ? { since: position.since, tieAfterId: maxId(objects) }
        : { since: position.since + 1, tieAfterId: null };
    } else {
      const newest = Math.max(position.since, ...objects.map((o) => cursorOf(o, stream)));
      if (!more) {
        next = { since: newest, tieAfterId: null };
        done = true;
      } else if (newest > position.since) {
        next = { since: newest, tieAfterId: null };
      } else {
        // The whole page is one instant and there may be more of it: read that instant by id.
        next = { since: position.since, tieAfterId: '0' };
      }
    }
    if (records.length > 0 || !samePosition(next, position)) yield { records, state: { ...next } };
    if (done) return;
    position = next;
  }
}

/** HubSpot's batch read takes at most this many ids. */
const BATCH_READ_MAX = 100;

/**
 * Reads records by id, asking for the properties a sync asks for and mapping them as it does. Ids
 * HubSpot no longer has are left out; repeated ids are read once.
 */
export async function readByIds(
  client: HubspotClient,
  stream: HubspotStream,
  ids: string[],
  options: MapOptions,
): Promise<SyncedRecord[]> {
  const name = stream.descriptor.name;
  const wanted = [...new Set(ids)];
  const bad = wanted.find((id) => !isId(id));
  if (bad !== undefined)
    throw permanent(`HubSpot ${name}: ${JSON.stringify(bad.slice(0, 40))} is not a HubSpot record id`);
  const properties = [...new Set([...stream.properties, options.requestKeyProperty])];
  const records: SyncedRecord[] = [];
  for (let from = 0; from < wanted.length; from += BATCH_READ_MAX) {
    const objects = await client.batchRead(
      stream.objectType,
      wanted.slice(from, from + BATCH_READ_MAX),
      properties,
    );
    for (const [index, object] of objects.entries()) {
      if (typeof object.id !== 'string' || !isId(object.id))
        throw permanent(`HubSpot ${name}: result ${index} of a read by id has no usable id`);
      records.push(stream.map(object as HubspotObject & { id: string }, options));
    }
  }
  return records;
}

/** Records modified at or after `since`, oldest first. */
function rangeSearch(
  stream: HubspotStream,
  since: number,
  properties: string[],
  limit: number,
): HubspotSearchRequest {
  return {
    filterGroups: [
      { filters: [{ propertyName: stream.cursorProperty, operator: 'GTE', value: String(since) }] },
    ],
    sorts: [{ propertyName: stream.cursorProperty, direction: 'ASCENDING' }],
    properties,
    limit,
  };
}

/** Records modified exactly at `at` with an id above `afterId`, by id. GTE+LTE rather than EQ on a datetime. */
function tieSearch(
  stream: HubspotStream,
  at: number,
  afterId: string,
  properties: string[],
  limit: number,
): HubspotSearchRequest {
  return {
    filterGroups: [
      {
        filters: [
          { propertyName: stream.cursorProperty, operator: 'GTE', value: String(at) },
          { propertyName: stream.cursorProperty, operator: 'LTE', value: String(at) },
          { propertyName: 'hs_object_id', operator: 'GT', value: afterId },
        ],
      },
    ],
    sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
    properties,
    limit,
  };
}

function parsePosition(stream: string, state: StreamState | null): HubspotPosition {
  if (state === null) return { since: 0, tieAfterId: null };
  const { since, tieAfterId } = state;
  if (
    typeof since !== 'number' ||
    !Number.isSafeInteger(since) ||
    since < 0 ||
    !(tieAfterId === null || tieAfterId === undefined || (typeof tieAfterId === 'string' && isId(tieAfterId)))
  )
    throw permanent(`HubSpot ${stream}: the stored state ${JSON.stringify(state)} is not a HubSpot position`);
  return { since, tieAfterId: tieAfterId ?? null };
}

/** A record the hub cannot key would be lost silently if skipped, so the page fails instead. */
function withId(
  object: HubspotObject,
  stream: HubspotStream,
  position: HubspotPosition,
  index: number,
): HubspotObject & { id: string } {
  const id = object.id;
  if (typeof id === 'string' && isId(id)) return object as HubspotObject & { id: string };
  throw permanent(
    `HubSpot ${stream.descriptor.name}: result ${index} of the page at ${JSON.stringify(position)} has no usable id (${JSON.stringify(id ?? null)}); refusing to skip it`,
  );
}

/**
 * The cursor value HubSpot filtered and sorted on. A record without one still matched `GTE since`, so
 * `since` is a safe stand-in (the object's `updatedAt` is not: it could run ahead of the property).
 */
function cursorOf(object: HubspotObject, stream: HubspotStream): number {
  const properties = object.properties as Record<string, unknown> | undefined;
  return date(properties?.[stream.cursorProperty])?.getTime() ?? 0;
}

/** HubSpot ids are decimal integers, possibly beyond 2^53: compare as such. */
function maxId(objects: { id: string }[]): string {
  return objects.reduce((max, { id }) => (compareIds(id, max) > 0 ? id : max), '0');
}

function compareIds(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
}

const isId = (value: string): boolean => /^\d{1,30}$/.test(value);

const samePosition = (a: HubspotPosition, b: HubspotPosition): boolean =>
  a.since === b.since && a.tieAfterId === b.tieAfterId;
