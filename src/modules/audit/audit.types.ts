import { ArgsType, Field, ID, Int, ObjectType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { AuditEvent } from '../../platform/audit/audit-event.entity';

@ArgsType()
export class AuditLogArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => ID, { nullable: true, description: 'Only what this API key did' })
  actorKeyId?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Only these actions, e.g. ["deploy", "setModelAlias"]',
  })
  actions?: string[] | null;

  @Field(() => String, { nullable: true })
  subjectType?: string | null;

  @Field(() => String, { nullable: true })
  subjectId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Inclusive' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Exclusive' })
  to?: Date | null;
}

@ObjectType()
export class AuditChainBreak {
  @Field(() => Int, { description: 'The chain position where it breaks' })
  seq: number;

  @Field(() => ID, { description: 'The event found there' })
  eventId: string;

  @Field()
  reason: string;
}

@ObjectType({ description: 'The result of recomputing a project’s audit chain' })
export class AuditChainReport {
  @Field()
  ok: boolean;

  @Field(() => Int, { description: 'Events verified before the first break (all of them when ok)' })
  events: number;

  @Field(() => Int, {
    description:
      'Of those, events hashed without a key (written before keying): evidence only against someone who cannot write to the database',
  })
  unkeyedEvents: number;

  @Field(() => AuditChainBreak, { nullable: true })
  firstBroken: AuditChainBreak | null;
}

export const AuditEventConnection = Connection(AuditEvent);
