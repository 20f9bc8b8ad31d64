import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { Logger } from '../common/logger';
import { murmur3 } from '../common/murmur3';
import { LockSession } from './lock-session';

/**
 * Every space of PostgreSQL advisory locks Nerve takes, in one place, so two features never share locks
 * by accident. A lock is `(space, key)`, PostgreSQL's two-int4 form: the key is an id hashed to an int4,
 * or a number as it is. The values are fixed: replicas of older and newer versions must take the same
 * locks.
 */
export const LOCK_SPACES = {
  /** Appends to one audit chain (key: the chain). */
  audit: 0x6e61,
  /** Positions in the outbox (key 0: one lock). */
  outbox: 0x6e6f,
  /** One tick of a scheduled job (key: the job's id). */
  job: 0x6e72,
  /** One sync of a connector (key: the connector's id). */
  sync: 0x6e73,
  /** One step of a rollout's driver (key: the rollout's id). */
  rollout: 0x726f,
  /** Runners claiming automation runs (key 0: one lock, so concurrency limits hold across replicas). */
  automation: 0x6175,
} as const;
export type LockSpace = keyof typeof LOCK_SPACES;

/**
 * Locks of the whole hub, in PostgreSQL's one-bigint form, which never conflicts with the two-int4 form
 * of the spaces above.
 */
export const HUB_LOCKS = {
  /** One replica at a time runs migrations. */
  migrations: 7_146_500_101,
  /** One replica seeds a fresh database. */
  seed: 7_146_500_102,
} as const;
export type HubLock = keyof typeof HUB_LOCKS;

/** The int4 key of an id within a space: a string hashed (murmur3), a number as it is. */
export function lockKey(id: string | number): number {
  return typeof id === 'number' ? id : murmur3(id) | 0;
}

/** Waits for the lock `(space, id)` and holds it until the transaction of `manager` ends. */
export async function xactLock(manager: EntityManager, space: LockSpace, id: string | number): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_SPACES[space], lockKey(id)]);
}

/**
 * Takes the lock `(space, id)` until the transaction of `manager` ends, unless another session holds it:
 * then false at once, and nothing is held.
 */
export async function tryXactLock(
  manager: EntityManager,
  space: LockSpace,
  id: string | number,
): Promise<boolean> {
  const [{ locked }] = (await manager.query('SELECT pg_try_advisory_xact_lock($1, $2) AS locked', [
    LOCK_SPACES[space],
    lockKey(id),
  ])) as Array<{ locked: boolean }>;
  return locked;
}

/**
 * Takes the lock `(space, id)` on a session of its own ({@link LockSession}), for work that outlives a
 * transaction; null when another session holds it. The holder watches `lost` and calls `release()`.
 */
export function tryLock(
  db: DataSource,
  logger: Logger,
  space: LockSpace,
  id: string,
): Promise<LockSession | null> {
  return LockSession.tryAcquire(db, logger, `${space}:${id}`, LOCK_SPACES[space], lockKey(id));
}

/** Waits for a hub lock and holds it until the transaction of `manager` ends. */
export async function xactHubLock(manager: EntityManager, lock: HubLock): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock($1)', [HUB_LOCKS[lock]]);
}

/**
 * Waits for a hub lock on `runner`'s own session, for work that must run on that connection (migrations:
 * a second connection could wait forever on a pool of one). Release it with {@link hubUnlock}.
 */
export async function hubLock(runner: QueryRunner, lock: HubLock): Promise<void> {
  await runner.query('SELECT pg_advisory_lock($1)', [HUB_LOCKS[lock]]);
}

/** Releases a hub lock taken with {@link hubLock}; never throws (a session that ended released it). */
export async function hubUnlock(runner: QueryRunner, lock: HubLock): Promise<void> {
  await runner.query('SELECT pg_advisory_unlock($1)', [HUB_LOCKS[lock]]).catch(() => undefined);
}
