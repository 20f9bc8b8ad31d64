import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

/** Risk level under the EU AI Act. */
export enum RiskLevel {
  MINIMAL = 'MINIMAL',
  LIMITED = 'LIMITED',
  HIGH = 'HIGH',
  UNACCEPTABLE = 'UNACCEPTABLE',
}
registerEnumType(RiskLevel, { name: 'RiskLevel', description: 'Risk level under the EU AI Act' });

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

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;

  @Field()
  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt: Date;
}
