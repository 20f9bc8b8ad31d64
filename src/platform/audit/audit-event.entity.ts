import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Who did what to which subject, when, with what before and after: one row per effectful mutation,
 * written in the mutation's transaction. Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)
 * and hash-chained per project: `hash` covers the event and the previous event's hash, so editing,
 * removing or reordering any row breaks every hash after it.
 */
@ObjectType()
@Entity('audit_event')
@Index('uq_audit_event__chain_seq', ['chain', 'seq'], { unique: true })
@Index('idx_audit_event__project_at', ['projectId', 'at'])
export class AuditEvent {
  @Field(() => ID)
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'pk_audit_event' })
  id: string;

  /** The chain: the project id, or `hub` for hub-wide events (keys without a project, projects). */
  @Column('text')
  chain: string;

  @Field({ description: 'Position in its chain, from 1' })
  @Column('int')
  seq: number;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  projectId: string | null;

  @Field(() => ID, { description: 'The API key that acted (all zeros: the hub itself)' })
  @Column('uuid')
  actorKeyId: string;

  @Field()
  @Column('text')
  actorName: string;

  @Field()
  @Column('text')
  actorRole: string;

  @Field({ description: 'e.g. deploy, setModelAlias, createApiKey, updateConnector' })
  @Column('text')
  action: string;

  @Field({ description: 'The kind of thing acted on, e.g. Endpoint, ModelVersion, ApiKey' })
  @Column('text')
  subjectType: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  subjectId: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'What changed, as it was' })
  @Column('jsonb', { nullable: true })
  before: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'What changed, as it became' })
  @Column('jsonb', { nullable: true })
  after: Record<string, unknown> | null;

  @Field()
  @Column('text')
  requestId: string;

  @Field()
  @Column('timestamptz')
  at: Date;

  @Field({ description: 'sha256 of the previous event of the chain (64 zeros for the first)' })
  @Column('text')
  prevHash: string;

  @Field({ description: 'HMAC-SHA256 (or, for hashVersion 0, plain sha256) over the fields and prevHash' })
  @Column('text')
  hash: string;

  /**
   * How `hash` was made: 0, plain sha256 (events written before keying; anyone who can INSERT can
   * recompute it), 1, HMAC-SHA256 under a key derived from NERVE_SECRET_KEY, which the database never
   * holds. A version-0 event is accepted only before a chain's first keyed event.
   */
  @Field(() => Int, { description: '0: unkeyed sha256 (written before keying), 1: HMAC-SHA256' })
  @Column('smallint', { default: 0 })
  hashVersion: number;
}
