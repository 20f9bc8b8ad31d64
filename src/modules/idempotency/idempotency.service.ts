import { createHash } from 'node:crypto';
import type { DataSource, EntityManager, EntityTarget } from 'typeorm';
import { BadInputError, ConflictError } from '../../common/errors';
import type { RequestContext } from '../../context/context';
import { IdempotencyRecord } from './idempotency-record.entity';

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );

/** A mutation that creates one row, made at most once per idempotency key (see `runCreating`). */
export interface Creating<E> {
  /** The mutation's name: keys are scoped per operation and caller. */
  operation: string;
  key: string | null | undefined;
  /** What a retry must repeat exactly; the same key with other arguments is a CONFLICT. */
  args: unknown;
  entity: EntityTarget<E>;
}

/**
 * Runs a mutation at most once per idempotency key. The key is claimed in the same transaction as the
 * mutation's writes, so either both land or neither does; a concurrent retry waits on the claim's row
 * lock and then sees the stored result.
 */
export class IdempotencyService {
  constructor(private readonly db: DataSource) {}

  /**
   * The stored result of an earlier call with this key, if any (CONFLICT if that call had other
   * arguments); for work that cannot run inside the claim's transaction, like a vendor call.
   */
  async peek(ctx: RequestContext, operation: string, key: string, args: unknown): Promise<unknown> {
    const { scope, requestHash } = this.claimOf(ctx, operation, key, args);
    const first = await this.db.getRepository(IdempotencyRecord).findOneBy({ scope, key });
    if (!first) return undefined;
    if (first.requestHash !== requestHash) {
      throw new ConflictError('idempotencyKey was already used with other arguments', 'idempotencyKey');
    }
    return first.result ?? undefined;
  }

  async run<T>(
    ctx: RequestContext,
    operation: string,
    key: string | null | undefined,
    args: unknown,
    work: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    if (key === null || key === undefined) return this.db.transaction(work);
    const { scope, requestHash } = this.claimOf(ctx, operation, key, args);
    return this.db.transaction(async (manager) => {
      const claimed = await manager
        .createQueryBuilder()
        .insert()
        .into(IdempotencyRecord)
        .values({ scope, key, requestHash, result: () => 'NULL' })
        .orIgnore()
        .returning(['key'])
        .execute();
      if (claimed.raw.length === 0) {
        const first = await manager.findOneByOrFail(IdempotencyRecord, { scope, key });
        if (first.requestHash !== requestHash) {
          throw new ConflictError('idempotencyKey was already used with other arguments', 'idempotencyKey');
        }
        return first.result as T;
      }
      const result = await work(manager);
      await manager.update(IdempotencyRecord, { scope, key }, { result: result as object });
      return result;
    });
  }

  /**
   * `run` for a mutation that creates one row: the claim keeps only the row's id, and a retry gets the
   * row as it is now (the first call's entity does not survive a trip through jsonb: dates, relations).
   */
  async runCreating<E extends { id: string }>(
    ctx: RequestContext,
    creating: Creating<E>,
    work: (manager: EntityManager) => Promise<E>,
  ): Promise<E> {
    let created: E | undefined;
    const { id } = await this.run(ctx, creating.operation, creating.key, creating.args, async (manager) => {
      created = await work(manager);
      return { id: created.id };
    });
    return created ?? this.db.getRepository(creating.entity).findOneByOrFail({ id } as never);
  }

  private claimOf(ctx: RequestContext, operation: string, key: string, args: unknown) {
    if (key.length < 1 || key.length > 200)
      throw new BadInputError('idempotencyKey', 'must be 1 to 200 characters');
    return {
      scope: `${operation}:${ctx.caller.keyId}`,
      requestHash: createHash('sha256').update(canonical(args)).digest('hex'),
    };
  }
}
