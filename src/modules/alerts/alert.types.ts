import { ArgsType, Field, ObjectType, registerEnumType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { Alert, AlertKind, AlertSeverity, AlertStatus } from './alert.entity';

export enum AlertChange {
  RAISED = 'RAISED',
  UPDATED = 'UPDATED',
  ACKNOWLEDGED = 'ACKNOWLEDGED',
  RESOLVED = 'RESOLVED',
}
registerEnumType(AlertChange, { name: 'AlertChange', description: 'What happened to an alert' });

@ObjectType({ description: 'An alert as it changed: raised, its severity updated, acknowledged or resolved' })
export class AlertEvent {
  @Field(() => AlertChange)
  change: AlertChange;

  @Field(() => Alert)
  alert: Alert;
}

@ArgsType()
export class AlertsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => [AlertStatus], { nullable: true, description: 'Only these statuses; all by default' })
  statuses?: AlertStatus[] | null;

  @Field(() => [AlertKind], { nullable: true })
  kinds?: AlertKind[] | null;
}

@ArgsType()
export class AlertRaisedArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => [AlertKind], { nullable: true, description: 'Only these kinds; all by default' })
  kinds?: AlertKind[] | null;

  @Field(() => AlertSeverity, { nullable: true, description: 'This severity and above; all by default' })
  minSeverity?: AlertSeverity | null;
}

export const AlertConnection = Connection(Alert);
