import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { DataSource, EntityManager, EntityTarget } from 'typeorm';
import { BadInputError, ConflictError, DomainError, ErrorCode } from '../../common/errors';
import type { RequestContext } from '../../context/context';
import { canonicalJson } from '../../common/canonical-json';
import { IdempotencyRecord } from './idempotency-record.entity';

/** How `once` holds a key while its call runs outside any transaction. */
export interface ClaimOptions {
  /**
   * How long a PENDING claim is honoured before another caller may take it over, as the claim of a process
   * that died mid-call. Longer than a vendor call with all its retries. Default 10 minutes.
   */
  leaseMs?: number;
  /** How long a second caller waits for the first's result before answering CONFLICT. Default 60 s. */
  maxWaitMs?: number;
  /** The first pause between looks at a PENDING claim; doubles up to 1 s. Default 25 ms. */
  pollMs?: number;
}

/** The error a failed claimed call gave, stored so that callers waiting on it get the same. */
interface StoredFailure {
  code: ErrorCode;
  message: string;
  extensions: Record<string, unknown>;
}

/** A mutation that creates one row, made at most once per idempotency key (see `UnitOfWork.create`). */
export interface Creating<E> {
  /** The mutation's name: keys are scoped per operation and caller. */
  operation: string;
  key: string | null | undefined;
  /** What a retry must repeat exactly; the same key with other arguments is a CONFLICT. */
  args: unknown;
  entity: EntityTarget<E>;
}

/**
 * Idempotency keys: a mutation runs at most once per key. `claim` holds a key inside a unit of work's
 * transaction; `once` holds it across a call that cannot run inside one (a vendor call).
 */
export class IdempotencyService {
  private readonly leaseMs: number;
  private readonly maxWaitMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly db: DataSource,
    claims: ClaimOptions = {},
  ) {
    this.leaseMs = claims.leaseMs ?? 600_000;
    this.maxWaitMs = claims.maxWaitMs ?? 60_000;
    this.pollMs = claims.pollMs ?? 25;
  }

  /**
   * Claims `key` inside the caller's transaction (the unit of work's). A first call gets `replay: false`
   * and stores its result with `store` before the transaction ends, so the claim and the change commit
   * together or not at all; a concurrent retry waits on the claim's row lock and then finds the stored
   * result (`replay: true`). The same key with other arguments is a CONFLICT.
   */
  async claim(
    manager: EntityManager,
    ctx: RequestContext,
    operation: string,
    key: string,
    args: unknown,
  ): Promise<{ replay: true; result: unknown } | { replay: false; store(result: unknown): Promise<void> }> {
    const { scope, requestHash } = this.claimOf(ctx, operation, key, args);
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
      return { replay: true, result: first.result };
    }
    return {
      replay: false,
      store: async (result) => {
        await manager.update(IdempotencyRecord, { scope, key }, { result: result as object });
      },
    };
  }

  /**
   * Runs `call` at most once per key when it cannot run inside the claim's transaction (a vendor call).
   * The key is claimed PENDING in a committed row before `call` starts, so a concurrent caller with the
   * key finds the claim and waits for its outcome instead of calling too. On success the result is stored
   * DONE, together with `record`'s writes (the audit event), in one transaction; every caller gets that
   * result. On failure the claim turns FAILED: callers that waited on it get the same error, and the next
   * call with the key claims it again.
   *
   * A claim whose lease ran out (its process died mid-call) is taken over by the next caller. That retry
   * may reach the vendor a second time, which is safe only because each adapter passes the key on to the
   * vendor (Zendesk's Idempotency-Key, a UiPath queue item's Reference, looked up before adding): the
   * lease bounds the wait, the vendor-side key keeps the retry from doing the work twice.
   */
  async once<T>(
    ctx: RequestContext,
    operation: string,
    key: string,
    args: unknown,
    call: (resumed: boolean) => Promise<T>,
    record: (manager: EntityManager, result: T) => Promise<void>,
  ): Promise<T> {
    const { scope, requestHash } = this.claimOf(ctx, operation, key, args);
    const giveUpAt = Date.now() + this.maxWaitMs;
    let pause = this.pollMs;
    let waited = false;
    for (;;) {
      const claimId = randomUUID();
      // A new key, a FAILED one (unless this caller was waiting on that very failure) or a PENDING one
      // whose lease ran out becomes this caller's; anything else is left as it is.
      const claimed = (await this.db.query(
        `INSERT INTO idempotency_record AS r (scope, key, request_hash, state, claim_id, lease_until)
         VALUES ($1, $2, $3, 'PENDING', $4, now() + make_interval(secs => $5::double precision / 1000))
         ON CONFLICT (scope, key) DO UPDATE
            SET state = 'PENDING', claim_id = EXCLUDED.claim_id, lease_until = EXCLUDED.lease_until,
                failure = NULL
          WHERE r.request_hash = EXCLUDED.request_hash
            AND ((r.state = 'FAILED' AND NOT $6::boolean) OR (r.state = 'PENDING' AND r.lease_until < now()))
         RETURNING claim_id, (xmax <> 0) AS resumed`,
        [scope, key, requestHash, claimId, this.leaseMs, waited],
      )) as Array<{ claim_id: string; resumed: boolean }>;
      // Taken from a FAILED or abandoned claim: that attempt may have reached the vendor before it
      // failed or its process died, so the call is told to check before it acts again.
      if (claimed.length === 1)
        return this.carryOut(scope, key, claimId, () => call(claimed[0].resumed), record);

      const first = await this.db.getRepository(IdempotencyRecord).findOneBy({ scope, key });
      if (!first) continue;
      if (first.requestHash !== requestHash)
        throw new ConflictError('idempotencyKey was already used with other arguments', 'idempotencyKey');
      if (first.state === 'DONE') return first.result as T;
      if (first.state === 'FAILED' && waited) {
        const failure = first.failure as StoredFailure;
        throw new DomainError(failure.code, failure.message, failure.extensions);
      }
      if (first.state === 'PENDING') {
        if (Date.now() >= giveUpAt)
          throw new ConflictError(
            'a call with this idempotencyKey is still in progress; retry it later for its result',
            'idempotencyKey',
          );
        waited = true;
        await delay(pause);
        pause = Math.min(pause * 2, 1000);
      }
    }
  }

  /** The claimed call, then its outcome stored against the claim (unless the claim was taken over). */
  private async carryOut<T>(
    scope: string,
    key: string,
    claimId: string,
    call: () => Promise<T>,
    record: (manager: EntityManager, result: T) => Promise<void>,
  ): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (error) {
      const failure: StoredFailure =
        error instanceof DomainError
          ? { code: error.code, message: error.message, extensions: error.extensions }
          : { code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'internal error', extensions: {} };
      await this.db.query(
        `UPDATE idempotency_record SET state = 'FAILED', failure = $4, claim_id = NULL, lease_until = NULL
          WHERE scope = $1 AND key = $2 AND claim_id = $3`,
        [scope, key, claimId, JSON.stringify(failure)],
      );
      throw error;
    }
    return this.db.transaction(async (manager) => {
      const done = (await manager.query(
        `UPDATE idempotency_record SET state = 'DONE', result = $4, claim_id = NULL, lease_until = NULL
          WHERE scope = $1 AND key = $2 AND claim_id = $3
          RETURNING result`,
        [scope, key, claimId, JSON.stringify(result)],
      )) as [Array<{ result: T }>, number];
      if (done[0].length === 0) {
        // Taken over after the lease ran out: whoever holds the key now stores (and audits) its outcome.
        const now = await manager.findOneBy(IdempotencyRecord, { scope, key });
        return now?.state === 'DONE' ? (now.result as T) : result;
      }
      await record(manager, result);
      return done[0][0].result;
    });
  }

  private claimOf(ctx: RequestContext, operation: string, key: string, args: unknown) {
    if (key.length < 1 || key.length > 200)
      throw new BadInputError('idempotencyKey', 'must be 1 to 200 characters');
    return {
      scope: `${operation}:${ctx.caller.keyId}`,
      requestHash: createHash('sha256').update(canonicalJson(args)).digest('hex'),
    };
  }
}
