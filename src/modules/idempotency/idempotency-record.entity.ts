import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** The first result of an idempotent mutation, returned again to a retry with the same key. */
@Entity('idempotency_record')
export class IdempotencyRecord {
  /** Operation and caller: the same key from two callers or two operations never collides. */
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_idempotency_record' })
  scope: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_idempotency_record' })
  key: string;

  /** sha256 of the arguments: the same key with other arguments is a conflict, not a retry. */
  @Column('text')
  requestHash: string;

  /** Null while the first call is still in its transaction. */
  @Column('jsonb', { nullable: true })
  result: unknown;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
