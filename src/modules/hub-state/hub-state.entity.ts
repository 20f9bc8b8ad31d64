import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * Facts the hub keeps about itself across restarts, one row per key (e.g. `demo-seed`: how far seeding
 * the demo got), so a start can resume what an earlier one left unfinished.
 */
@Entity('hub_state')
export class HubState {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_hub_state' })
  key: string;

  @Column('jsonb')
  value: Record<string, unknown>;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
