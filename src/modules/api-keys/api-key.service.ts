import { createHash, randomBytes } from 'node:crypto';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { BadInputError, ForbiddenError, NotFoundError } from '../../common/errors';
import { requireIdSet } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import { subscribeTo, type EventBus } from '../../events';
import type { Role } from '../../common/role';
import { ApiKey } from './api-key.entity';
import type { AuditEntry } from '../../platform/audit/audit-trail';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { countProjects } from '../projects/project.repository';
import type { Principal } from '../../auth/abilities';
import type { Platform } from '../../platform/platform';

const KEY_PREFIX = 'nrv_';
/**
 * How long a key lookup is trusted before the database is asked again. A revocation reaches every
 * replica at once over the event bus; this bounds the lag when that event is lost (Redis down).
 */
export const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;
/** Each project of a key is an audit event in that project's chain when the key is created or revoked. */
const MAX_KEY_PROJECTS = 1_000;

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export interface CreatedKey {
  key: ApiKey;
  /** The whole secret; shown once. */
  secret: string;
}

export interface CreateKeyInput {
  name: string;
  role: Role;
  projectIds?: string[] | null;
  expiresAt?: Date | null;
}

export interface ApiKeyServiceDeps extends Pick<Platform, 'db' | 'work'> {
  now: () => number;
  events?: EventBus;
}

/** Issues, resolves and revokes API keys. */
export class ApiKeyService {
  /** By the presented token, so a cache hit costs no hashing; `revoke` evicts by key id. */
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private readonly revokedListeners: Array<(keyId: string, reason: string) => void> = [];

  private readonly db: DataSource;
  private readonly now: () => number;
  private readonly work: UnitOfWork;

  constructor(deps: ApiKeyServiceDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.work = deps.work;
    if (deps.events) void this.watchRevocations(deps.events);
  }

  /**
   * Calls `listener` with the id of every key revoked from now on, on any replica, or found revoked or
   * expired by `recheck` (e.g. to close its sockets), and why.
   */
  onRevoked(listener: (keyId: string, reason: string) => void): void {
    this.revokedListeners.push(listener);
  }

  /** Ends when the bus closes. */
  private async watchRevocations(events: EventBus): Promise<void> {
    for await (const event of subscribeTo(events, 'api-key.revoked', true)) this.forget(event.payload.keyId);
  }

  /** Drops a revoked key from the cache and tells the listeners; idempotent (the revoking replica hears its own event too). */
  private forget(keyId: string, reason = 'API key revoked'): void {
    for (const [token, entry] of this.cache) {
      if (entry.principal?.keyId === keyId) this.cache.delete(token);
    }
    for (const listener of this.revokedListeners) listener(keyId, reason);
  }

  /**
   * Forgets those of `keyIds` that are revoked, expired or gone, in one query: a replica re-checks the
   * keys of its open sockets every {@link CACHE_TTL_MS}, so a revocation whose event was lost (Redis
   * down) or an expiry still closes them within that delay.
   */
  async recheck(keyIds: readonly string[]): Promise<void> {
    if (keyIds.length === 0) return;
    const keys = await this.db.getRepository(ApiKey).find({
      select: { id: true, revokedAt: true, expiresAt: true },
      where: { id: In([...keyIds]) },
    });
    const byId = new Map(keys.map((k) => [k.id, k]));
    const now = this.now();
    for (const id of keyIds) {
      const key = byId.get(id);
      if (!key || key.revokedAt) this.forget(id);
      else if (key.expiresAt && key.expiresAt.getTime() <= now) this.forget(id, 'API key expired');
    }
  }

  /** The principal behind a bearer token, or null when the token is unknown, revoked or expired. */
  async authenticate(token: string): Promise<Principal | null> {
    if (!token.startsWith(KEY_PREFIX) || token.length > 200) return null;
    const now = this.now();
    const cached = this.cache.get(token);
    if (cached && cached.until > now) return cached.principal;
    const key = await this.db.getRepository(ApiKey).findOneBy({ hash: hashKey(token) });
    const valid = key && !key.revokedAt && (!key.expiresAt || key.expiresAt.getTime() > now);
    const principal: Principal | null = valid
      ? { keyId: key.id, name: key.name, role: key.role, projectIds: key.projectIds }
      : null;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(token, { principal, until: now + CACHE_TTL_MS });
    return principal;
  }

  /** Creates a key without a caller: the first admin key of a fresh install. */
  async bootstrap(input: CreateKeyInput, manager: EntityManager = this.db.manager): Promise<CreatedKey> {
    return this.insert(input, null, manager);
  }

  async create(ctx: RequestContext, input: CreateKeyInput): Promise<CreatedKey> {
    ctx.authorize('create', 'ApiKey');
    const caller = ctx.caller;
    const name = input.name.trim();
    if (!name || name.length > 100) throw new BadInputError('name', 'must be 1 to 100 characters');
    if (input.expiresAt && input.expiresAt.getTime() <= this.now()) {
      throw new BadInputError('expiresAt', 'must be in the future');
    }
    const projectIds = input.projectIds
      ? requireIdSet('projectIds', input.projectIds, MAX_KEY_PROJECTS)
      : null;
    if (projectIds) {
      if (projectIds.length === 0)
        throw new BadInputError('projectIds', 'must name at least one project, or be null');
      const found = await countProjects(this.db.manager, projectIds);
      if (found !== projectIds.length)
        throw new BadInputError('projectIds', 'names a project that does not exist');
    }
    // A scoped admin can only hand out keys within its own scope.
    if (caller.projectIds && (!projectIds || projectIds.some((id) => !caller.projectIds!.includes(id)))) {
      throw new ForbiddenError('a project-scoped key can only create keys within its own projects');
    }
    return this.work.run(ctx, async (tx) => {
      const created = await this.insert({ ...input, name, projectIds }, caller.keyId, tx.manager);
      tx.audit(this.auditEntries('createApiKey', created.key, null));
      return created;
    });
  }

  /** A key change, in the chain of each project the key is scoped to (the hub's for an unscoped key). */
  private auditEntries(action: string, key: ApiKey, before: object | null): AuditEntry[] {
    const after = {
      name: key.name,
      prefix: key.prefix,
      role: key.role,
      projectIds: key.projectIds,
      expiresAt: key.expiresAt,
      revokedAt: key.revokedAt,
    };
    return (key.projectIds ?? [null]).map((projectId) => ({
      action,
      subjectType: 'ApiKey',
      subjectId: key.id,
      projectId,
      before,
      after,
    }));
  }

  async revoke(ctx: RequestContext, id: string): Promise<ApiKey> {
    ctx.authorize('delete', 'ApiKey');
    const repo = this.db.getRepository(ApiKey);
    const key = await repo.findOneBy({ id });
    if (!key) throw new NotFoundError('ApiKey', id);
    const caller = ctx.caller;
    if (
      caller.projectIds &&
      (!key.projectIds || key.projectIds.some((p) => !caller.projectIds!.includes(p)))
    ) {
      // As if it did not exist: a scoped admin learns nothing of keys beyond its projects.
      throw new NotFoundError('ApiKey', id);
    }
    if (!key.revokedAt) {
      key.revokedAt = new Date(this.now());
      await this.work.run(ctx, async (tx) => {
        await tx.manager.update(ApiKey, { id }, { revokedAt: key.revokedAt });
        tx.audit(this.auditEntries('revokeApiKey', key, { revokedAt: null }));
        tx.emit({
          type: 'api-key.revoked',
          stream: `api-key:${key.id}`,
          projectId: null,
          payload: { keyId: key.id, projectIds: key.projectIds },
        });
      });
    }
    // Here at once, without waiting for the event; every replica (this one again) hears it from the outbox.
    this.forget(key.id);
    return key;
  }

  async get(ctx: RequestContext, id: string): Promise<ApiKey> {
    ctx.authorize('read', 'ApiKey');
    const key = await this.db.getRepository(ApiKey).findOneBy({ id });
    if (!key) throw new NotFoundError('ApiKey', id);
    return key;
  }

  private async insert(
    input: CreateKeyInput,
    createdByKeyId: string | null,
    manager: EntityManager = this.db.manager,
  ): Promise<CreatedKey> {
    const secret = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
    const repo = manager.getRepository(ApiKey);
    const key = repo.create({
      name: input.name,
      role: input.role,
      projectIds: input.projectIds ?? null,
      expiresAt: input.expiresAt ?? null,
      prefix: secret.slice(0, 12),
      hash: hashKey(secret),
      createdByKeyId,
      revokedAt: null,
    });
    await repo.insert(key);
    return { key, secret };
  }
}
