import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { Role } from '../../common/role';

// Role lives in src/common/role.ts; re-exported for the tests and benches that import it from here.
export { Role };

@ObjectType({ description: 'An API key. The secret is shown once, at creation; only its hash is stored.' })
@Entity('api_key')
@Unique('uq_api_key__prefix', ['prefix'])
@Index('idx_api_key__hash', ['hash'])
export class ApiKey {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_api_key' })
  id: string;

  @Field()
  @Column('text')
  name: string;

  @Field({ description: 'The first characters of the key, to recognise it by' })
  @Column('text')
  prefix: string;

  /** sha256 of the whole key, hex. Keys are 192 random bits, so a fast hash is enough. */
  @Column('text')
  hash: string;

  @Field(() => Role)
  @Column('enum', { enum: Role, enumName: 'role' })
  role: Role;

  @Field(() => [ID], { nullable: true, description: 'Projects this key is limited to; null means all' })
  @Column('uuid', { array: true, nullable: true })
  projectIds: string[] | null;

  @Column('uuid', { nullable: true })
  createdByKeyId: string | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  revokedAt: Date | null;
}
