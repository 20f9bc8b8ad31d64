import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { SketchJson } from './ddsketch';

/**
 * One replica's aggregate of one endpoint version's predictions in one minute: counts and a latency
 * DDSketch. Replicas write their own rows; a window's figures merge every replica's rows in it.
 */
@Entity('endpoint_stats_minute')
@Index('idx_endpoint_stats_minute__window', ['endpointId', 'minute'])
export class EndpointStatsMinute {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_endpoint_stats_minute' })
  endpointId: string;

  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_endpoint_stats_minute' })
  modelVersionId: string;

  @PrimaryColumn('timestamptz', { primaryKeyConstraintName: 'pk_endpoint_stats_minute' })
  minute: Date;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_endpoint_stats_minute' })
  replica: string;

  @Column('int')
  requests: number;

  @Column('int')
  errors: number;

  @Column('jsonb')
  sketch: SketchJson;
}
