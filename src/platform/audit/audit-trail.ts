import { createHash, createHmac, hkdfSync } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson } from '../../common/canonical-json';
import { xactLock } from '../../db/advisory-lock';
import { AuditEvent } from './audit-event.entity';

/** What a change records: the action, its subject, and what changed. */
export interface AuditEntry {
  action: string;
  subjectType: string;
  subjectId: string | null;
  /** null: a hub-wide event (its own chain). */
  projectId: string | null;
  before?: object | null;
  after?: object | null;
}

/** Who acted, as the trail records it. */
export interface AuditActor {
  keyId: string;
  name: string;
  role: string;
  requestId: string;
}

export const GENESIS = '0'.repeat(64);
const HUB_CHAIN = 'hub';

/** A JSON value as it will read back from jsonb (dates as ISO strings, undefined dropped). */
const asJson = (value: object | null | undefined): Record<string, unknown> | null =>
  value == null ? null : (JSON.parse(JSON.stringify(value)) as Record<string, unknown>);

export type Hashed = Pick<
  AuditEvent,
  | 'chain'
  | 'seq'
  | 'projectId'
  | 'actorKeyId'
  | 'actorName'
  | 'actorRole'
  | 'action'
  | 'subjectType'
  | 'subjectId'
  | 'before'
  | 'after'
  | 'requestId'
  | 'at'
  | 'prevHash'
>;

/** Every field of the event and the previous hash, in a fixed order: what a hash covers. */
const hashedText = (e: Hashed): string =>
  canonicalJson([
    e.chain,
    e.seq,
    e.projectId,
    e.actorKeyId,
    e.actorName,
    e.actorRole,
    e.action,
    e.subjectType,
    e.subjectId,
    e.before,
    e.after,
    e.requestId,
    e.at.toISOString(),
    e.prevHash,
  ]);

/**
 * Version 0: plain sha256 of the event. Kept to verify events written before keying; anyone who can
 * INSERT can compute it, so it proves nothing against them.
 */
export function auditHash(e: Hashed): string {
  return createHash('sha256').update(hashedText(e)).digest('hex');
}

/** Version 1: HMAC-SHA256 of the event under the chain key (see {@link auditChainKey}). */
export function keyedAuditHash(key: Buffer, e: Hashed): string {
  return createHmac('sha256', key).update(hashedText(e)).digest('hex');
}

/**
 * The audit chain's key, derived (HKDF) from NERVE_SECRET_KEY for this one purpose: the database holds
 * neither, so write access to it is not enough to forge an event that verifies.
 */
export function auditChainKey(secretKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'base64'), '', 'nerve audit chain v1', 32));
}

export const UNKEYED = 0;
export const KEYED = 1;

/**
 * The audit trail's writer. `append` adds events to their project's chain inside the caller's
 * transaction (so an event exists exactly when its change does), holding the chain's advisory lock
 * until commit so events of one chain never race for a position. Reading and verifying is the audit
 * module's (src/modules/audit).
 */
export class AuditTrail {
  private readonly key: Buffer | undefined;

  constructor(
    /** NERVE_SECRET_KEY; undefined (a hub on DATABASE_URL without one): events are written unkeyed. */
    secretKey: string | undefined,
  ) {
    this.key = secretKey ? auditChainKey(secretKey) : undefined;
  }

  async append(
    manager: EntityManager,
    actor: AuditActor,
    at: Date,
    entries: readonly AuditEntry[],
  ): Promise<void> {
    for (const entry of entries) {
      const chain = entry.projectId ?? HUB_CHAIN;
      await xactLock(manager, 'audit', chain);
      const [last] = (await manager.query(
        'SELECT seq, hash FROM audit_event WHERE chain = $1 ORDER BY seq DESC LIMIT 1',
        [chain],
      )) as Array<{ seq: number; hash: string }>;
      const event: Hashed = {
        chain,
        seq: (last?.seq ?? 0) + 1,
        projectId: entry.projectId,
        actorKeyId: actor.keyId,
        actorName: actor.name,
        actorRole: actor.role,
        action: entry.action,
        subjectType: entry.subjectType,
        subjectId: entry.subjectId,
        before: asJson(entry.before),
        after: asJson(entry.after),
        requestId: actor.requestId,
        // Milliseconds, as the column gives them back.
        at: new Date(at.getTime()),
        prevHash: last?.hash ?? GENESIS,
      };
      const hashed = this.key
        ? { hash: keyedAuditHash(this.key, event), hashVersion: KEYED }
        : { hash: auditHash(event), hashVersion: UNKEYED };
      await manager.insert(AuditEvent, { ...event, ...hashed } as never);
    }
  }
}
