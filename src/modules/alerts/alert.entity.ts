import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, Entity, Index, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { References } from '../../db/references';
import { Project } from '../projects/project.entity';
import { AlertKind, AlertSeverity, AlertStatus } from './alert.enums';

// Other modules import the enums from ./alert.enums, as they may not import this entity file; they are
// re-exported here for the code that always imported them from it.
export { AlertKind, AlertSeverity, AlertStatus, SEVERITY_RANK } from './alert.enums';

/**
 * A condition that needs attention. A persisting condition is one alert (by dedupe key) that updates,
 * not a flood; it resolves itself once the condition has been clear for a while.
 */
@ObjectType()
@Entity('alert')
@Index('uq_alert__dedupe_key', ['dedupeKey'], { unique: true, where: "status <> 'RESOLVED'" })
@Index('idx_alert__project_opened', ['projectId', 'openedAt'])
export class Alert {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_alert' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @References(() => Project, 'project_id', 'fk_alert__project_id', { onDelete: 'CASCADE' })
  project?: Relation<Project>;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  endpointId: string | null;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  modelVersionId: string | null;

  @Field(() => AlertKind)
  @Column('enum', { enum: AlertKind, enumName: 'alert_kind' })
  kind: AlertKind;

  @Field(() => AlertSeverity)
  @Column('enum', { enum: AlertSeverity, enumName: 'alert_severity' })
  severity: AlertSeverity;

  @Field(() => AlertStatus)
  @Column('enum', { enum: AlertStatus, enumName: 'alert_status', default: AlertStatus.OPEN })
  status: AlertStatus;

  @Field({
    description: 'One open alert per key: the condition it stands for (kind, endpoint, version, ...)',
  })
  @Column('text')
  dedupeKey: string;

  @Field()
  @Column('text')
  title: string;

  @Field(() => GraphQLJSONObject, {
    description: 'The figures behind it: values, thresholds, window, version',
  })
  @Column('jsonb')
  evidence: Record<string, unknown>;

  @Field(() => Int, { description: 'Evaluations that found the condition, since it opened' })
  @Column('int', { default: 1 })
  occurrences: number;

  @Column('int', { default: 0 })
  clearStreak: number;

  @Field()
  @Column('timestamptz')
  openedAt: Date;

  @Field({ description: 'When the condition was last seen' })
  @Column('timestamptz')
  lastSeenAt: Date;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  acknowledgedAt: Date | null;

  @Field(() => ID, { nullable: true })
  @Column('uuid', { nullable: true })
  acknowledgedByKeyId: string | null;

  @Field(() => Date, { nullable: true })
  @Column('timestamptz', { nullable: true })
  resolvedAt: Date | null;

  @Field(() => ID, { nullable: true, description: 'Who resolved it; null when it resolved itself' })
  @Column('uuid', { nullable: true })
  resolvedByKeyId: string | null;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  resolution: string | null;
}
