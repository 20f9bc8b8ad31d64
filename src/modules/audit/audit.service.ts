import type { DataSource } from 'typeorm';
import { BadInputError } from '../../common/errors';
import { paginate, type ConnectionResult } from '../../common/pagination';
import type { RequestContext } from '../../context/context';
import { AuditEvent } from '../../platform/audit/audit-event.entity';
import {
  auditChainKey,
  auditHash,
  GENESIS,
  KEYED,
  keyedAuditHash,
  UNKEYED,
} from '../../platform/audit/audit-trail';
import type { ProjectService } from '../projects/project.service';
import type { AuditChainReport, AuditLogArgs } from './audit.types';
import type { Platform } from '../../platform/platform';

export interface AuditServiceDeps extends Pick<Platform, 'db'> {
  projects: ProjectService;
  /** NERVE_SECRET_KEY; without it keyed events cannot be verified. */
  secretKey?: string;
}

/**
 * Reading the audit trail: a project's events and the verification of its chain. Events are written
 * by the unit of work (src/platform/audit/audit-trail.ts), in the transaction of their change.
 */
export class AuditService {
  private readonly key: Buffer | undefined;

  private readonly db: DataSource;
  private readonly projects: ProjectService;

  constructor(deps: AuditServiceDeps) {
    this.db = deps.db;
    this.projects = deps.projects;
    this.key = deps.secretKey ? auditChainKey(deps.secretKey) : undefined;
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
