import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

import { RiskLevel } from './project.enums';

export { RiskLevel };

/** What `Project.dataPolicy` holds; see `DataPolicy` for the GraphQL face. */
export interface DataPolicyValue {
  /** `<scope>.<field>`: scope `prediction` (input feature) or a synced table (`ticket`, `crm_contact`, …). */
  personalFields?: string[];
  /** REDACT (default) replaces values with "[redacted]"; HASH with an HMAC, so equal values stay joinable. */
  treatment?: 'REDACT' | 'HASH';
  predictionRetentionDays?: number | null;
  syncedRecordRetentionDays?: number | null;
}

@ObjectType({ description: 'An AI project: the unit of ownership, access and risk.' })
@Entity('project')
@Unique('uq_project__slug', ['slug'])
export class Project {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_project' })
  id: string;

  @Field({ description: 'URL-safe identifier, unique across the hub' })
  @Column('text')
  slug: string;

  @Field()
  @Column('text')
  name: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  description: string | null;

  @Field(() => RiskLevel)
  @Column('enum', { enum: RiskLevel, enumName: 'risk_level', default: RiskLevel.MINIMAL })
  riskLevel: RiskLevel;

  /**
   * Personal data handling: fields marked personal (redacted or hashed in prediction logs and in
   * responses to roles without the right to see them) and how long logs and synced records are kept.
   */
  @Column('jsonb', { default: () => "'{}'" })
  dataPolicy: DataPolicyValue;

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field()
  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
