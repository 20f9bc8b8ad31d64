import { Field, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { SafeIntResolver } from 'graphql-scalars';
import { bigintAsNumber } from '../../common/columns';

@ObjectType({ description: 'A content-addressed binary in the artifact store' })
@Entity('artifact')
export class Artifact {
  @Field({ description: 'sha256 of the content, lowercase hex' })
  @PrimaryColumn('char', { length: 64, primaryKeyConstraintName: 'pk_artifact' })
  sha256: string;

  @Field(() => SafeIntResolver)
  @Column('bigint', { transformer: bigintAsNumber })
  size: number;

  @Column('uuid', { nullable: true })
  createdByKeyId: string | null;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
