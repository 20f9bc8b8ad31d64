import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A domain event, written in the transaction of the change it describes. `position` is taken under one
 * transaction-scoped lock held until commit, so positions grow in commit order: a reader that has seen
 * position N has seen every committed event before it. Catalogue: src/events/catalogue.ts.
 */
@Entity('outbox_event')
@Index('idx_outbox_event__stream_position', ['stream', 'position'])
@Index('idx_outbox_event__project_position', ['projectId', 'position'])
export class OutboxEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'pk_outbox_event' })
  position: string;

  @Column('text')
  type: string;

  @Column('text')
  stream: string;

  @Column('uuid', { nullable: true })
  projectId: string | null;

  @Column('jsonb')
  payload: object;

  @Column('uuid')
  actorKeyId: string;

  @Column('text')
  requestId: string;

  @Column('timestamptz')
  at: Date;
}

/** How far a named, durable consumer has read the outbox. */
@Entity('outbox_consumer')
export class OutboxConsumer {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_outbox_consumer' })
  name: string;

  @Column('bigint')
  position: string;

  @Column('timestamptz')
  updatedAt: Date;
}
