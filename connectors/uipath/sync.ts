import type { Page, StreamState } from '../_shared/contract';
import { permanent } from '../_shared/errors';
import type { SyncedRecord } from '../_shared/records';
import { type Keyset, type ODataPage, type StreamEntity, UiPathClient, moreAfter } from './client';
import { mapJob, mapQueueItem } from './mapper';

export type UiPathStream = 'jobs' | 'queueItems';

const ENTITY: Record<UiPathStream, StreamEntity> = { jobs: 'Jobs', queueItems: 'QueueItems' };

/**
 * A stream's position. Orchestrator leaves `LastModificationTime` null until a row is first modified, so
 * a stream is read in two passes, each with its own keyset: rows never modified, by Id; then modified
 * rows, by (LastModificationTime, Id). A row modified after the first pass read it moves into the second
 * pass's range ahead of its cursor, so it is read again (now or next sync), never lost.
 */
export interface UiPathStreamState extends StreamState {
  /** Never-modified rows with an Id up to this one have been read. */
  neverModifiedAfterId: number;
  /** Modified rows up to this position have been read; null: none yet. */
  modifiedAfter: Keyset | null;
}

export interface ReadOptions {
  pageSize: number;
  requestKeyField: string;
  now: () => Date;
}

/**
 * Reads a stream from `state` to the present, one page per request. Each page's state is the keyset
 * position after its last record, so the hub, which commits a page's records and state together, resumes
 * exactly after the last page it wrote.
 */
export async function* readStream(
  client: UiPathClient,
  stream: UiPathStream,
  state: StreamState | null,
  options: ReadOptions,
): AsyncGenerator<Page> {
  const entity = ENTITY[stream];
  let position = parseState(stream, state);
  const mapper = recordMapper(client, stream, options);

  for (;;) {
    const page = await client.neverModified(entity, position.neverModifiedAfterId, options.pageSize);
    if (page.value.length === 0) break;
    const where = `the page of never-modified ${stream} after Id ${position.neverModifiedAfterId}`;
    const records = await mapper(page.value, where);
    let last = position.neverModifiedAfterId;
    for (const [i, raw] of page.value.entries()) {
      const { id } = UiPathClient.keyset(raw);
      if (id === undefined || id <= last)
        throw permanent(
          `UiPath Orchestrator ${stream}: record ${i + 1} of ${where} is out of Id order; the cursor cannot advance safely`,
        );
      last = id;
    }
    position = { ...position, neverModifiedAfterId: last };
    yield { records, state: { ...position } };
    if (caughtUp(page, options.pageSize)) break;
  }

  for (;;) {
    const page = await client.modifiedAfter(entity, position.modifiedAfter, options.pageSize);
    if (page.value.length === 0) break;
    const after = position.modifiedAfter;
    const where = after
      ? `the page of ${stream} after LastModificationTime ${after.at}, Id ${after.id}`
      : `the first page of modified ${stream}`;
    const records = await mapper(page.value, where);
    let last = after;
    for (const [i, raw] of page.value.entries()) {
      const { at, id } = UiPathClient.keyset(raw);
      const next = at !== null && id !== undefined && instantTicks(at) !== undefined ? { at, id } : undefined;
      if (!next || (last && !(compareKeysets(next, last) > 0)))
        throw permanent(
          `UiPath Orchestrator ${stream}: record ${i + 1} of ${where} ${
            next
              ? 'is out of (LastModificationTime, Id) order'
              : 'lacks a valid LastModificationTime or integer Id'
          }; the cursor cannot advance safely`,
        );
      last = next;
    }
    position = { ...position, modifiedAfter: last };
    yield { records, state: { ...position, modifiedAfter: last && { ...last } } };
    if (caughtUp(page, options.pageSize)) break;
  }
}

/** Each page is a fresh keyset query, so the server's signals for it say whether anything is left. */
function caughtUp(page: ODataPage, pageSize: number): boolean {
  return !moreAfter(page, pageSize);
}

type Mapper = (rows: Record<string, unknown>[], where: string) => Promise<SyncedRecord[]>;

function recordMapper(client: UiPathClient, stream: UiPathStream, options: ReadOptions): Mapper {
  const base = { requestKeyField: options.requestKeyField };
  if (stream === 'jobs')
    return async (rows, where) => {
      const ctx = { ...base, fetchedAt: options.now() };
      return rows.map((raw, i) => mapJob(raw, ctx, `record ${i + 1} of ${where}`));
    };
  let queueNames: Map<number, string> | undefined;
  let refreshed = false;
  return async (rows, where) => {
    queueNames ??= await client.queueNames();
    // A queue created during the sync: read the names once more, then map what is still unknown to null.
    const unknown = rows.some(
      (r) => typeof r.QueueDefinitionId === 'number' && !queueNames?.has(r.QueueDefinitionId),
    );
    if (unknown && !refreshed) {
      refreshed = true;
      queueNames = await client.queueNames();
    }
    const ctx = { ...base, fetchedAt: options.now(), queueNames };
    return rows.map((raw, i) => mapQueueItem(raw, ctx, `record ${i + 1} of ${where}`));
  };
}

function parseState(stream: UiPathStream, state: StreamState | null): UiPathStreamState {
  if (state === null) return { neverModifiedAfterId: 0, modifiedAfter: null };
  const id = state.neverModifiedAfterId;
  const after = state.modifiedAfter as { at?: unknown; id?: unknown } | null | undefined;
  const afterOk =
    after === null ||
    (typeof after === 'object' &&
      typeof after.at === 'string' &&
      instantTicks(after.at) !== undefined &&
      typeof after.id === 'number' &&
      Number.isSafeInteger(after.id));
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || after === undefined || !afterOk)
    throw permanent(`UiPath Orchestrator ${stream}: the saved sync state is not one this connector wrote`);
  return {
    neverModifiedAfterId: id,
    modifiedAfter: after && { at: after.at as string, id: after.id as number },
  };
}

/** Orders keysets by instant (to 100 ns, whatever the number of fractional digits), then Id. */
export function compareKeysets(a: Keyset, b: Keyset): number {
  const x = instantTicks(a.at);
  const y = instantTicks(b.at);
  if (x === undefined || y === undefined) return Number.NaN;
  if (x !== y) return x < y ? -1 : 1;
  return a.id - b.id;
}

/** An ISO 8601 time as 100 ns ticks since the epoch; undefined if it is not one. */
function instantTicks(at: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})$/.exec(at);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 10_000n + BigInt((m[2] ?? '').padEnd(7, '0'));
}
