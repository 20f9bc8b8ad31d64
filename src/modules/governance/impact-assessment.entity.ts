import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';

export enum AssessmentStatus {
  SUBMITTED = 'SUBMITTED',
  APPROVED = 'APPROVED',
  REJECTED = 'REJECTED',
}
registerEnumType(AssessmentStatus, { name: 'AssessmentStatus' });

/**
 * An impact assessment of a project (EU AI Act, GDPR DPIA): versioned — each submission is a new
 * version, never edited — and decided by an approver other than its author. A HIGH-risk project
 * serves production traffic only while its latest version is APPROVED.
 */
@ObjectType()
@Entity('impact_assessment')
@Index('uq_impact_assessment__project_version', ['projectId', 'version'], { unique: true })
export class ImpactAssessment {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_impact_assessment' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_impact_assessment__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field(() => Int)
  @Column('int')
  version: number;

  @Field(() => GraphQLJSONObject, { description: 'The template’s sections, as submitted' })
  @Column('jsonb')
  sections: Record<string, unknown>;

  @Field(() => AssessmentStatus)
  @Column('enum', { enum: AssessmentStatus, enumName: 'assessment_status' })
  status: AssessmentStatus;

  @Field(() => ID)
  @Column('uuid')
  submittedByKeyId: string;

  @Field()
  @Column('timestamptz')
  submittedAt: Date;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  decidedByKeyId: string | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  decidedAt: Date | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  comment: string | null;
}
