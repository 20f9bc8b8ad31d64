import { Field, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, type Relation } from 'typeorm';
import { SafeIntResolver } from 'graphql-scalars';
import { bigintAsNumber } from '../../common/columns';
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';

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

/**
 * A project's right to an artifact, written by an upload to that project. Blobs are shared on disk by
 * content, but who may read or reference one is per project: holding a hash is not access to its bytes.
 */
@Entity('artifact_grant')
@Index('idx_artifact_grant__project_id', ['projectId'])
export class ArtifactGrant {
  @PrimaryColumn('char', { length: 64, primaryKeyConstraintName: 'pk_artifact_grant' })
  sha256: string;

  @References(() => Artifact, 'sha256', 'fk_artifact_grant__sha256', { onDelete: 'CASCADE' })
  artifact?: Relation<Artifact>;

  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_artifact_grant' })
  projectId: string;

  @References(() => Project, 'project_id', 'fk_artifact_grant__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Column('uuid', { nullable: true })
  grantedByKeyId: string | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
