import type { EntityManager, QueryRunner } from 'typeorm';
import { murmur3 } from '../common/murmur3';
import {
  HUB_LOCKS,
  LOCK_SPACES,
  hubLock,
  hubUnlock,
  lockKey,
  tryXactLock,
  xactHubLock,
  xactLock,
} from './advisory-lock';

/** A manager or runner that records its statements and answers `locked`. */
function recorder(locked = true) {
  const sent: Array<[string, unknown[]]> = [];
  const query = async (sql: string, parameters: unknown[]) => {
    sent.push([sql, parameters]);
    if (sql.includes('pg_advisory_unlock')) throw new Error('the session ended');
    return [{ locked }];
  };
  return { sent, as: <T>() => ({ query }) as unknown as T };
}

describe('advisory locks', () => {
  it('keeps the lock identities older replicas take', () => {
    // A replica of another version must contend for the same locks: these values never change.
    expect(LOCK_SPACES).toEqual({
      audit: 0x6e61,
      outbox: 0x6e6f,
      job: 0x6e72,
      sync: 0x6e73,
      rollout: 0x726f,
      automation: 0x6175,
    });
    expect(HUB_LOCKS).toEqual({ migrations: 7_146_500_101, seed: 7_146_500_102 });
    expect(new Set(Object.values(LOCK_SPACES)).size).toBe(Object.keys(LOCK_SPACES).length);
  });

  it('keys an id by its murmur3 hash as an int4, and a number as it is', () => {
    const id = '3f8e2a4c-0b1d-4e5f-9a7b-6c5d4e3f2a1b';
    expect(lockKey(id)).toBe(murmur3(id) | 0);
    expect(lockKey(id)).toBeGreaterThanOrEqual(-(2 ** 31));
    expect(lockKey(id)).toBeLessThan(2 ** 31);
    expect(lockKey(0)).toBe(0);
  });

  it('takes transaction locks in a space, waiting or trying', async () => {
    const manager = recorder(false);
    await xactLock(manager.as<EntityManager>(), 'audit', 'hub');
    expect(await tryXactLock(manager.as<EntityManager>(), 'rollout', 'r1')).toBe(false);
    expect(manager.sent).toEqual([
      ['SELECT pg_advisory_xact_lock($1, $2)', [0x6e61, murmur3('hub') | 0]],
      ['SELECT pg_try_advisory_xact_lock($1, $2) AS locked', [0x726f, murmur3('r1') | 0]],
    ]);
  });

  it('takes hub locks in the one-bigint form, and an unlock never throws', async () => {
    const session = recorder();
    await xactHubLock(session.as<EntityManager>(), 'seed');
    await hubLock(session.as<QueryRunner>(), 'migrations');
    await expect(hubUnlock(session.as<QueryRunner>(), 'migrations')).resolves.toBeUndefined();
    expect(session.sent).toEqual([
      ['SELECT pg_advisory_xact_lock($1)', [7_146_500_102]],
      ['SELECT pg_advisory_lock($1)', [7_146_500_101]],
      ['SELECT pg_advisory_unlock($1)', [7_146_500_101]],
    ]);
  });
});
