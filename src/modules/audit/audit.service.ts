import { createHash, createHmac, hkdfSync } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { BadInputError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import type { RequestContext } from '../../context/context';
import { murmur3 } from '../../common/murmur3';
import type { Creating, IdempotencyService } from '../idempotency/idempotency.service';
import type { ProjectService } from '../projects/project.service';
import { AuditEvent } from './audit-event.entity';
import type { AuditChainReport, AuditLogArgs } from './audit.types';

/** What a mutation records: the action, its subject, and what changed. */
export interface AuditEntry {
  action: string;
  subjectType: string;
  subjectId: string | null;
  /** null: a hub-wide event (its own chain). */
  projectId: string | null;
  before?: object | null;
  after?: object | null;
}

const GENESIS = '0'.repeat(64);
/** Advisory-lock namespace of audit chains (held per transaction while an event is appended). */
const AUDIT_LOCK_SPACE = 0x6e61;
const HUB_CHAIN = 'hub';
const SYSTEM_KEY_ID = '00000000-0000-0000-0000-000000000000';

/** JSON with object keys sorted at every level: jsonb reorders keys, the hash must not care. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** A JSON value as it will read back from jsonb (dates as ISO strings, undefined dropped). */
const asJson = (value: object | null | undefined): Record<string, unknown> | null =>
  value == null ? null : (JSON.parse(JSON.stringify(value)) as Record<string, unknown>);

type Hashed = Pick<
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
  canonical([
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

const UNKEYED = 0;
const KEYED = 1;

/**
 * The audit trail. `record` appends to the project's chain inside the caller's transaction (so the
 * event exists exactly when the change does), holding the chain's advisory lock until commit so
 * events of one chain never race for a position.
 */
export class AuditService {
  /** Set once the project service exists (it records its own mutations here, so it is built after). */
  projects!: ProjectService;
  /** Set once built, for {@link AuditService.createOnce}. */
  idempotency!: IdempotencyService;

  private readonly key: Buffer | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly now: () => Date,
    /** NERVE_SECRET_KEY; undefined (a hub on DATABASE_URL without one): events are written unkeyed. */
    secretKey?: string,
  ) {
    this.key = secretKey ? auditChainKey(secretKey) : undefined;
  }

  async record(
    manager: EntityManager,
    ctx: RequestContext,
    entries: AuditEntry | AuditEntry[],
  ): Promise<void> {
    const { keyId, name, role } = ctx.caller;
    await this.append(manager, { keyId, name, role, requestId: ctx.requestId }, entries);
  }

  /**
   * For changes made where only the acting key's id is at hand (a rollout's history, an alias moved
   * by a rollout): the key's name and role are read from it; null is the hub itself (its jobs).
   */
  async recordAs(
    manager: EntityManager,
    actorKeyId: string | null,
    requestId: string,
    entries: AuditEntry | AuditEntry[],
  ): Promise<void> {
    const [key] = actorKeyId
      ? ((await manager.query('SELECT name, role FROM api_key WHERE id = $1', [actorKeyId])) as Array<{
          name: string;
          role: string;
        }>)
      : [];
    await this.append(
      manager,
      {
        keyId: actorKeyId ?? SYSTEM_KEY_ID,
        name: key?.name ?? 'hub',
        role: key?.role ?? 'SYSTEM',
        requestId,
      },
      entries,
    );
  }

  private async append(
    manager: EntityManager,
    actor: { keyId: string; name: string; role: string; requestId: string },
    entries: AuditEntry | AuditEntry[],
  ): Promise<void> {
    for (const entry of Array.isArray(entries) ? entries : [entries]) {
      const chain = entry.projectId ?? HUB_CHAIN;
      await manager.query('SELECT pg_advisory_xact_lock($1, $2)', [AUDIT_LOCK_SPACE, murmur3(chain) | 0]);
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
        at: new Date(this.now().getTime()),
        prevHash: last?.hash ?? GENESIS,
      };
      const hashed = this.key
        ? { hash: keyedAuditHash(this.key, event), hashVersion: KEYED }
        : { hash: auditHash(event), hashVersion: UNKEYED };
      await manager.insert(AuditEvent, { ...event, ...hashed } as never);
    }
  }

  /** Runs `work` in a transaction and records what it returns to audit in the same transaction. */
  async transaction<T>(
    ctx: RequestContext,
    work: (manager: EntityManager) => Promise<{ result: T; audit: AuditEntry | AuditEntry[] | null }>,
  ): Promise<T> {
    return this.db.transaction(async (manager) => {
      const { result, audit } = await work(manager);
      if (audit) await this.record(manager, ctx, audit);
      return result;
    });
  }

  /**
   * `transaction` for a mutation that creates one row, with an optional idempotency key: the key's
   * claim, the row and its audit event commit together, and a retry with the key gets the first row.
   */
  async createOnce<E extends { id: string }>(
    ctx: RequestContext,
    creating: Creating<E>,
    work: (manager: EntityManager) => Promise<{ result: E; audit: AuditEntry | AuditEntry[] | null }>,
  ): Promise<E> {
    return this.idempotency.runCreating(ctx, creating, async (manager) => {
      const { result, audit } = await work(manager);
      if (audit) await this.record(manager, ctx, audit);
      return result;
    });
  }

  /** A project's audit events, newest first, for admins and auditors of that project. */
  async list(ctx: RequestContext, args: AuditLogArgs): Promise<ConnectionResult<AuditEvent>> {
    const project = await this.projects.resolve(ctx, args.project, 'AuditEvent');
    ctx.authorize('read', 'AuditEvent', project.id);
    if (args.from && args.to && !(args.from < args.to)) throw new BadInputError('to', 'must be after from');
    const qb = this.db
      .getRepository(AuditEvent)
      .createQueryBuilder('e')
      .where('e.chain = :chain', { chain: project.id });
    if (args.actorKeyId) qb.andWhere('e.actorKeyId = :actor', { actor: args.actorKeyId });
    if (args.actions?.length) qb.andWhere('e.action IN (:...actions)', { actions: args.actions });
    if (args.subjectType) qb.andWhere('e.subjectType = :type', { type: args.subjectType });
    if (args.subjectId) qb.andWhere('e.subjectId = :subject', { subject: args.subjectId });
    if (args.from) qb.andWhere('e.at >= :from', { from: args.from });
    if (args.to) qb.andWhere('e.at < :to', { to: args.to });
    return paginate(qb, args, { keys: ['seq'] as never });
  }

  /**
   * Recomputes a project's chain from its first event and names the first link that does not hold:
   * a missing position, a previous-hash that is not the prior event's hash, a hash that does not
   * match the event's fields under the hub's key, or an unkeyed event after a keyed one (unkeyed
   * hashes are only honoured as the prefix written before keying: otherwise a forger would write
   * version 0). Reads in pages, so a long chain is not held in memory.
   */
  async verify(ctx: RequestContext, projectRef: string): Promise<AuditChainReport> {
    const project = await this.projects.resolve(ctx, projectRef, 'AuditEvent');
    ctx.authorize('read', 'AuditEvent', project.id);
    let previous = GENESIS;
    let expectedSeq = 1;
    let events = 0;
    let unkeyedEvents = 0;
    let keyedSeen = false;
    for (;;) {
      const page = await this.db
        .getRepository(AuditEvent)
        .createQueryBuilder('e')
        .where('e.chain = :chain AND e.seq >= :seq', { chain: project.id, seq: expectedSeq })
        .orderBy('e.seq', 'ASC')
        .limit(1000)
        .getMany();
      for (const e of page) {
        const broken = (reason: string): AuditChainReport => ({
          ok: false,
          events: events,
          unkeyedEvents,
          firstBroken: { seq: expectedSeq, eventId: e.id, reason },
        });
        if (e.seq !== expectedSeq) return broken(`event ${expectedSeq} is missing (found ${e.seq} next)`);
        if (e.prevHash !== previous)
          return broken('its previous hash is not the hash of the event before it');
        if (e.hashVersion === UNKEYED) {
          if (keyedSeen)
            return broken('its hash is unkeyed after keyed events: it was not written by the hub');
          if (auditHash(e) !== e.hash)
            return broken('its hash does not match its contents: the event was altered');
          unkeyedEvents += 1;
        } else if (e.hashVersion === KEYED) {
          if (!this.key)
            return broken('it is keyed under NERVE_SECRET_KEY, which this hub was not given: cannot verify');
          if (keyedAuditHash(this.key, e) !== e.hash)
            return broken(
              'its hash does not match its contents under the hub key: the event was altered or forged',
            );
          keyedSeen = true;
        } else {
          return broken(`its hash version ${e.hashVersion} is unknown`);
        }
        previous = e.hash;
        expectedSeq += 1;
        events += 1;
      }
      if (page.length < 1000) return { ok: true, events, unkeyedEvents, firstBroken: null };
    }
  }
}
