import type DataLoader from 'dataloader';
import {
  type Action,
  type AppAbility,
  type Principal,
  type Subject,
  defineAbility,
  scoped,
} from '../auth/abilities';
import { ForbiddenError, UnauthenticatedError } from '../common/errors';
import type { Logger } from '../common/logger';

/** The key id recorded for changes the hub makes itself. */
export const SYSTEM_KEY_ID = '00000000-0000-0000-0000-000000000000';

/**
 * What every service call receives first: who is calling, what they may do, and the per-request
 * loaders. One is built per HTTP request and per WebSocket operation, and one more per subscription event
 * ({@link RequestContext.forEvent}); never shared across principals.
 */
export class RequestContext {
  private builtAbility: AppAbility | undefined;
  private readonly loaders = new Map<string, DataLoader<unknown, unknown>>();

  constructor(
    readonly requestId: string,
    readonly principal: Principal | undefined,
    readonly logger: Logger,
    /** The hub itself (a job, the rollout driver, a sync, the seed), acting under its own name. */
    readonly isSystem = false,
  ) {}

  /** The caller's CASL ability, built on first use and at most once per request. */
  get ability(): AppAbility | undefined {
    if (!this.principal) return undefined;
    return (this.builtAbility ??= defineAbility(this.principal));
  }

  /**
   * A context for the hub's own actors (jobs, the rollout driver, syncs, the seed): acts with every
   * right; the audit trail records it as role SYSTEM under `name`, and `requestId` (default: the name)
   * ties its changes together, e.g. `rollout:<id>`. `projectIds` limits it to those projects (an
   * automation acts within its own project only).
   */
  static system(
    logger: Logger,
    name: string,
    requestId = name,
    projectIds: string[] | null = null,
  ): RequestContext {
    return new RequestContext(
      requestId,
      { keyId: SYSTEM_KEY_ID, name, role: 'ADMIN' as Principal['role'], projectIds },
      logger,
      true,
    );
  }

  /** The key recorded as having made a change: the caller's, or null for the hub's own actors. */
  get actingKeyId(): string | null {
    return this.isSystem ? null : this.caller.keyId;
  }

  /** The principal, or UNAUTHENTICATED. */
  get caller(): Principal {
    if (!this.principal) throw new UnauthenticatedError();
    return this.principal;
  }

  /** Whether the caller may do `action` on `subject` in `projectId` (or anywhere, without one). */
  can(action: Action, subject: Subject, projectId?: string): boolean {
    if (!this.ability) return false;
    return projectId === undefined
      ? this.ability.can(action, subject)
      : this.ability.can(action, scoped(subject, projectId));
  }

  /** Throws FORBIDDEN unless the caller may do `action` on `subject` in `projectId`. */
  authorize(action: Action, subject: Subject, projectId?: string): void {
    const principal = this.caller;
    if (!this.can(action, subject, projectId)) {
      throw new ForbiddenError(`${principal.role} key "${principal.name}" may not ${action} ${subject}`);
    }
  }

  /**
   * The projects whose `subject` rows the caller may read, for filtering lists in SQL:
   * `null` means every project.
   */
  readableProjects(subject: Subject): string[] | null {
    const principal = this.caller;
    if (!this.can('read', subject)) throw new ForbiddenError(`may not read ${subject}`);
    return principal.projectIds;
  }

  /**
   * A context for one event of a subscription: the same caller, ability and request id, with loaders
   * of its own, so an event never reads what an earlier event of the same socket cached.
   */
  forEvent(): RequestContext {
    const event = new RequestContext(this.requestId, this.principal, this.logger);
    event.builtAbility = this.builtAbility;
    return event;
  }

  /** The request's loader called `name`, created on first use. */
  loader<K, V>(name: string, create: () => DataLoader<K, V>): DataLoader<K, V> {
    let loader = this.loaders.get(name);
    if (!loader) {
      loader = create() as DataLoader<unknown, unknown>;
      this.loaders.set(name, loader);
    }
    return loader as DataLoader<K, V>;
  }
}
