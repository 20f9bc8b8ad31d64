import { Check, Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * DONE: the result is stored. PENDING: a call that cannot run inside one transaction (a vendor call) holds
 * the key until `leaseUntil`. FAILED: that call failed; its callers got the failure, and the next call
 * with the key may try again.
 */
export type IdempotencyState = 'PENDING' | 'DONE' | 'FAILED';

/** The first result of an idempotent mutation, returned again to a retry with the same key. */
@Entity('idempotency_record')
@Check('ck_idempotency_record__state', `"state" IN ('PENDING', 'DONE', 'FAILED')`)
export class IdempotencyRecord {
  /** Operation and caller: the same key from two callers or two operations never collides. */
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_idempotency_record' })
  scope: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_idempotency_record' })
  key: string;

  /** sha256 of the arguments: the same key with other arguments is a conflict, not a retry. */
  @Column('text')
  requestHash: string;

  /** Null while the first call is still in its transaction, or while a claim is PENDING. */
  @Column('jsonb', { nullable: true })
  result: unknown;

  /** Rows claimed and completed in one transaction (`run`) are DONE from the start. */
  @Column('text', { default: 'DONE' })
  state: IdempotencyState;

  /** Which attempt holds a PENDING claim, so a late finisher cannot overwrite a claim taken over from it. */
  @Column('uuid', { nullable: true })
  claimId: string | null;

  /** A PENDING claim past this instant (database time) was left by a process that died and may be taken over. */
  @Column('timestamptz', { nullable: true })
  leaseUntil: Date | null;

  /** FAILED: the error its waiting callers were given (code, message, extensions). */
  @Column('jsonb', { nullable: true })
  failure: unknown;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
