import { Column, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';

/**
 * One prediction as served (or one shadow scoring of it): the raw input, the answer, the version that
 * gave it and how long it took. Written in multi-row batches by the prediction log writer; a retried
 * request (same endpoint and request key) is logged once.
 */
@Entity('prediction_log')
@Unique('uq_prediction_log__request_key', ['endpointId', 'requestKey', 'shadow'])
@Index('idx_prediction_log__endpoint_time', ['endpointId', 'createdAt'])
@Index('idx_prediction_log__version_time', ['modelVersionId', 'createdAt'])
export class PredictionLog {
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'pk_prediction_log' })
  id: string;

  // No foreign keys on this hot, append-only table: each would cost a lookup per row written.
  @Column('uuid')
  projectId: string;

  @Column('uuid')
  endpointId: string;

  @Column('uuid')
  modelVersionId: string;

  @Column('text')
  requestKey: string;

  @Column('jsonb')
  features: Record<string, unknown>;

  @Column('jsonb', { nullable: true })
  outputs: Record<string, unknown> | null;

  @Column('real')
  latencyMs: number;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('boolean', { default: false })
  shadow: boolean;

  @Column('timestamptz')
  createdAt: Date;
}
