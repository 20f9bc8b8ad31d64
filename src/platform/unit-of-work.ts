import type { DataSource, EntityManager } from 'typeorm';
import type { RequestContext } from '../context/context';
import type { EventType, NewEvent } from '../events/catalogue';
import type { AuditActor, AuditEntry, AuditTrail } from './audit/audit-trail';
import type { Creating, IdempotencyService } from './idempotency/idempotency.service';
import type { Outbox } from './outbox/outbox';

/**
 * One change of state in the making: its transaction, who makes it, and what it records. Audit entries
 * and events are collected while the change runs and written at its end, in its transaction.
 */
export interface Change {
  readonly manager: EntityManager;
  readonly ctx: RequestContext;
  /** Records `entries` in the audit trail (one per effect; the actor is the unit of work's). */
  audit(entries: AuditEntry | readonly AuditEntry[] | null | undefined): void;
  /** Publishes a domain event when, and only when, the change commits. */
  emit<T extends EventType>(event: NewEvent<T>): void;
  /** Runs `effect` once the change has committed (never when it rolled back), e.g. dropping a cache. */
  afterCommit(effect: () => void): void;
}

/** An idempotency key for a unit of work: a retry with the same key and arguments gets the first result. */
export interface Claim {
  /** The mutation's name: keys are scoped per operation and caller. */
  operation: string;
  key: string | null | undefined;
  /** What a retry must repeat exactly; the same key with other arguments is a CONFLICT. */
  args: unknown;
}

export interface UnitOfWorkDeps {
  db: DataSource;
  now: () => Date;
  audit: AuditTrail;
  idempotency: IdempotencyService;
  outbox: Outbox;
  /** Called after every commit that wrote events (the relay reads at once). */
  onEvents?: () => void;
  /** Called after every commit that wrote events, before anything else happens; fault injection in tests. */
  onCommitted?: () => void;
}

class PendingChange implements Change {
  readonly entries: AuditEntry[] = [];
  readonly events: NewEvent[] = [];
  readonly effects: Array<() => void> = [];

  constructor(
    readonly manager: EntityManager,
    readonly ctx: RequestContext,
  ) {}

  audit(entries: AuditEntry | readonly AuditEntry[] | null | undefined): void {
    if (entries == null) return;
    if (Array.isArray(entries)) this.entries.push(...(entries as readonly AuditEntry[]));
    else this.entries.push(entries as AuditEntry);
  }

  emit<T extends EventType>(event: NewEvent<T>): void {
    this.events.push(event as NewEvent);
  }

  afterCommit(effect: () => void): void {
    this.effects.push(effect);
  }
}

/**
 * The one way state changes: every mutation, human or system, runs its change through `run`, `create`
 * or `once`. A unit of work opens the transaction, claims the idempotency key when one is given, runs
 * the change, appends the change's audit entries and then its domain events (the outbox; last, since it
 * serializes writers until commit) in the same transaction, commits, and only then runs after-commit
 * effects and wakes the outbox relay. So an audit event and a domain event exist exactly when their
 * change does, and a retry with the same key does nothing twice.
 *
 * The actor is the context: a caller's key, or a system context (`RequestContext.system`) naming the
 * hub's own actor (the rollout driver, a job, a sync, the seed).
 */
export class UnitOfWork {
  constructor(private readonly deps: UnitOfWorkDeps) {}

  /** Runs `change` in a transaction, at most once per `claim.key` when one is given. */
  async run<T>(ctx: RequestContext, change: (tx: Change) => Promise<T>, claim?: Claim): Promise<T> {
    const done = await this.deps.db.transaction(async (manager) => {
      const tx = new PendingChange(manager, ctx);
      let store: ((result: unknown) => Promise<void>) | undefined;
      if (claim?.key != null) {
        const claimed = await this.deps.idempotency.claim(
          manager,
          ctx,
          claim.operation,
          claim.key,
          claim.args,
        );
        if (claimed.replay) return { tx: undefined, result: claimed.result as T };
        store = claimed.store;
      }
      const result = await change(tx);
      await store?.(result);
      await this.finish(tx);
      return { tx, result };
    });
    if (done.tx) this.committed(done.tx);
    return done.result;
  }

  /**
   * `run` for a mutation that creates one row: the key's claim keeps only the row's id, and a retry gets
   * the row as it is now (the first call's entity would not survive a trip through jsonb).
   */
  async create<E extends { id: string }>(
    ctx: RequestContext,
    creating: Creating<E>,
    change: (tx: Change) => Promise<E>,
  ): Promise<E> {
    let created: E | undefined;
    const { id } = await this.run(
      ctx,
      async (tx) => {
        created = await change(tx);
        return { id: created.id };
      },
      creating,
    );
    return created ?? this.deps.db.getRepository(creating.entity).findOneByOrFail({ id } as never);
  }

  /**
   * For a call that cannot run inside a transaction (a vendor call): `call` runs at most once per key
   * (see IdempotencyService.once), then `record` runs as a unit of work with the result, in the
   * transaction that stores it.
   */
  async once<T>(
    ctx: RequestContext,
    claim: Claim & { key: string },
    call: (resumed: boolean) => Promise<T>,
    record: (tx: Change, result: T) => Promise<void>,
  ): Promise<T> {
    let recorded: PendingChange | undefined;
    const result = await this.deps.idempotency.once(
      ctx,
      claim.operation,
      claim.key,
      claim.args,
      call,
      async (manager, value) => {
        const tx = new PendingChange(manager, ctx);
        await record(tx, value);
        await this.finish(tx);
        recorded = tx;
      },
    );
    if (recorded) this.committed(recorded);
    return result;
  }

  private async finish(tx: PendingChange): Promise<void> {
    const at = this.deps.now();
    if (tx.entries.length > 0) await this.deps.audit.append(tx.manager, actorOf(tx.ctx), at, tx.entries);
    if (tx.events.length > 0) {
      await this.deps.outbox.append(
        tx.manager,
        { keyId: tx.ctx.caller.keyId, requestId: tx.ctx.requestId },
        at,
        tx.events,
      );
    }
  }

  private committed(tx: PendingChange): void {
    if (tx.events.length > 0) this.deps.onCommitted?.();
    for (const effect of tx.effects) {
      try {
        effect();
      } catch (error) {
        tx.ctx.logger.error('an after-commit effect failed', { error });
      }
    }
    if (tx.events.length > 0) this.deps.onEvents?.();
  }
}

/** The audit trail's actor: the caller's key, or the hub's system actor by its name. */
function actorOf(ctx: RequestContext): AuditActor {
  const { keyId, name, role } = ctx.caller;
  return { keyId, name, role: ctx.isSystem ? 'SYSTEM' : role, requestId: ctx.requestId };
}
