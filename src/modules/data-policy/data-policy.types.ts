import { Field, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PersonalDataTreatment } from './data-policy';

registerEnumType(PersonalDataTreatment, {
  name: 'PersonalDataTreatment',
  description: 'How personal values are logged and shown to callers without the right to see them',
  valuesConfig: {
    REDACT: { description: 'Replaced by "[redacted]"' },
    HASH: {
      description:
        'Replaced by a keyed HMAC-SHA256 ("hmac:…"): equal values stay equal within the project, for joins and counts',
    },
  },
});

const FIELDS_DESCRIPTION =
  '`<scope>.<field>`: `prediction.<feature>` (an input feature of any endpoint of the project) or a ' +
  'synced table and one of its text columns or `raw`, e.g. `crm_contact.email`, `ticket.subject`, `crm_contact.raw`';

@ObjectType({ description: 'How a project handles personal data' })
export class DataPolicy {
  @Field(() => [String], { description: FIELDS_DESCRIPTION })
  personalFields: string[];

  @Field(() => PersonalDataTreatment)
  treatment: PersonalDataTreatment;

  @Field(() => Int, { nullable: true, description: 'Prediction logs older than this are purged; null: kept' })
  predictionRetentionDays: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Synced records last modified in the vendor longer ago than this are purged; null: kept',
  })
  syncedRecordRetentionDays: number | null;
}

@InputType({ description: 'A data policy; it replaces the project’s policy as a whole' })
export class DataPolicyInput {
  @Field(() => [String], { defaultValue: [], description: FIELDS_DESCRIPTION })
  personalFields: string[];

  @Field(() => PersonalDataTreatment, { defaultValue: PersonalDataTreatment.REDACT })
  treatment: PersonalDataTreatment;

  @Field(() => Int, { nullable: true, description: '1 to 36500; null: kept until deleted' })
  predictionRetentionDays?: number | null;

  @Field(() => Int, { nullable: true, description: '1 to 36500; null: kept until deleted' })
  syncedRecordRetentionDays?: number | null;
}
