import type { DataSource, EntityManager } from 'typeorm';
import { xactLock } from '../../db/advisory-lock';
import type { AnyDomainEvent, EventType, NewEvent } from '../../events/catalogue';

/** Who made a change, as its events record it. */
export interface EventActor {
  keyId: string;
  requestId: string;
}

/** What to read from the outbox. */
export interface ReadOptions {
  /** Most events returned (default 500, at most 5,000). */
  limit?: number;
  types?: readonly EventType[];
  projectIds?: readonly string[] | null;
}

interface Row {
  position: string;
  type: EventType;
  stream: string;
  project_id: string | null;
  payload: never;
  actor_key_id: string;
  request_id: string;
  at: Date;
}

const toEvent = (row: Row): AnyDomainEvent =>
  ({
    position: row.position,
    type: row.type,
    stream: row.stream,
    projectId: row.project_id,
    payload: row.payload,
    actorKeyId: row.actor_key_id,
    requestId: row.request_id,
    at: row.at.toISOString(),
  }) as AnyDomainEvent;

/**
 * The transactional outbox: `append` writes a change's events in the change's own transaction, `read`
 * returns committed events after a position, in position order.
 *
 * Positions grow in commit order. `append` takes one transaction-scoped advisory lock before it draws
 * positions, and PostgreSQL releases it only once the transaction is visible (or rolled back): a
 * transaction that draws position N+1 does so after the holder of N has ended. So when a reader sees N+1
 * committed it sees everything at or below N that will ever commit, and reading `position > last` never
 * skips an event. The price is that writers of events serialize from their append to their commit
 * (append is the last statement of a unit of work), which is a few hundred microseconds.
 */
export class Outbox {
  constructor(private readonly db: DataSource) {}

  /** Writes `events` inside the caller's transaction; they become readable when it commits. */
  async append(
    manager: EntityManager,
    actor: EventActor,
    at: Date,
    events: readonly NewEvent[],
  ): Promise<void> {
    if (events.length === 0) return;
    await xactLock(manager, 'outbox', 0);
    const rows = events.map((e) => ({
      type: e.type,
      stream: e.stream,
      project_id: e.projectId,
      payload: e.payload,
      actor_key_id: actor.keyId,
      request_id: actor.requestId,
      at: at.toISOString(),
    }));
    await manager.query(
      `INSERT INTO outbox_event (type, stream, project_id, payload, actor_key_id, request_id, at)
       SELECT x.type, x.stream, x.project_id, x.payload, x.actor_key_id, x.request_id, x.at
         FROM ROWS FROM (jsonb_to_recordset($1::jsonb)
                AS (type text, stream text, project_id uuid, payload jsonb, actor_key_id uuid,
                    request_id text, at timestamptz)) WITH ORDINALITY
              AS x(type, stream, project_id, payload, actor_key_id, request_id, at, n)
        ORDER BY x.n`,
      [JSON.stringify(rows)],
    );
  }

  /** Committed events after `position` (exclusive), oldest first; `manager`: inside a transaction. */
  async read(
    after: string,
    options: ReadOptions = {},
    manager: EntityManager = this.db.manager,
  ): Promise<AnyDomainEvent[]> {
    const limit = Math.min(options.limit ?? 500, 5_000);
    const where = ['position > $1'];
    const params: unknown[] = [after];
    if (options.types?.length) {
      params.push(options.types);
      where.push(`type = ANY($${params.length})`);
    }
    if (options.projectIds) {
      params.push(options.projectIds);
      where.push(`project_id = ANY($${params.length})`);
    }
    params.push(limit);
    const rows = (await manager.query(
      `SELECT position, type, stream, project_id, payload, actor_key_id, request_id, at
         FROM outbox_event WHERE ${where.join(' AND ')} ORDER BY position LIMIT $${params.length}`,
      params,
    )) as Row[];
    return rows.map(toEvent);
  }

  /** The newest committed position ('0' for an empty outbox). */
  async head(manager: Pick<EntityManager, 'query'> = this.db): Promise<string> {
    const [{ head }] = (await manager.query(
      'SELECT COALESCE(MAX(position), 0)::text AS head FROM outbox_event',
    )) as Array<{ head: string }>;
    return head;
  }

  /** Deletes events older than `before`, in batches; returns how many went. */
  async purge(before: Date, batch = 10_000): Promise<number> {
    let total = 0;
    for (;;) {
      const [, count] = (await this.db.query(
        `DELETE FROM outbox_event WHERE position IN (
           SELECT position FROM outbox_event WHERE at < $1 ORDER BY position LIMIT $2)`,
        [before, batch],
      )) as [unknown, number];
      total += count;
      if (count < batch) return total;
    }
  }
}
