import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from '../../common/json-scalar';
import { Connection, PageArgs } from '../../common/pagination';
import {
  Automation,
  AutomationRun,
  AutomationRunStatus,
  AutomationStepKind,
  AutomationStepRun,
  AutomationTriggerKind,
  RecordChange,
} from './automation.entity';

@InputType()
export class AutomationTriggerInput {
  @Field(() => AutomationTriggerKind)
  kind: AutomationTriggerKind;

  @Field(() => String, { nullable: true, description: 'EVENT: the domain event type, e.g. records.synced' })
  event?: string | null;

  @Field(() => RecordChange, {
    nullable: true,
    description: 'records.synced: CREATED, UPDATED or ANY (default CREATED); one run per record',
  })
  change?: RecordChange | null;

  @Field(() => String, {
    nullable: true,
    description: 'records.synced: a connector of the project, by name or id',
  })
  connector?: string | null;

  @Field(() => String, { nullable: true, description: 'records.synced: a stream name, e.g. tickets' })
  stream?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'JSONata over the trigger document: runs only when true',
  })
  filter?: string | null;

  @Field(() => String, { nullable: true, description: 'SCHEDULE: a cron pattern (5 or 6 fields)' })
  schedule?: string | null;
}

@InputType()
export class AutomationStepInput {
  @Field({ description: 'Unique in the automation (letters, digits, _); later steps read steps.<name>' })
  name: string;

  @Field(() => AutomationStepKind)
  kind: AutomationStepKind;

  @Field(() => String, { nullable: true, description: 'JSONata: the step runs only when true' })
  when?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'JSONata producing the step input. PREDICT: {input, requestKey?}; CONDITION: the condition itself; CONNECTOR_ACTION, TRIGGER_PIPELINE: the action input; WEBHOOK: the body',
  })
  input?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'PREDICT {endpoint}; CONNECTOR_ACTION and TRIGGER_PIPELINE {connector, action}; WEBHOOK {url}',
  })
  settings?: Record<string, unknown> | null;
}

@InputType()
export class CreateAutomationInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'Unique in the project (a slug)' })
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => AutomationTriggerInput)
  trigger: AutomationTriggerInput;

  @Field(() => [AutomationStepInput])
  steps: AutomationStepInput[];

  @Field(() => Int, { nullable: true, description: 'Default 4, at most 64' })
  maxConcurrentRuns?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 5, at most 20' })
  maxAttempts?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns the same automation',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class UpdateAutomationInput {
  @Field(() => ID)
  automation: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => AutomationTriggerInput, { nullable: true })
  trigger?: AutomationTriggerInput | null;

  @Field(() => [AutomationStepInput], { nullable: true })
  steps?: AutomationStepInput[] | null;

  @Field(() => Int, { nullable: true })
  maxConcurrentRuns?: number | null;

  @Field(() => Int, { nullable: true })
  maxAttempts?: number | null;
}

@ArgsType()
export class AutomationsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

@ArgsType()
export class AutomationRunsArgs extends PageArgs {
  @Field(() => ID)
  automation: string;

  @Field(() => [AutomationRunStatus], { nullable: true })
  statuses?: AutomationRunStatus[] | null;
}

@ObjectType({ description: 'A dry run: what each step would get and give, with no side effect' })
export class AutomationTest {
  @Field({ description: 'Whether the trigger filter lets this document start a run' })
  matched: boolean;

  @Field(() => [AutomationStepRun])
  steps: AutomationStepRun[];
}

@ArgsType()
export class AutomationRunChangedArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => ID, { nullable: true, description: 'Only this automation' })
  automation?: string | null;
}

export const AutomationConnection = Connection(Automation);
export const AutomationRunConnection = Connection(AutomationRun);
