import { ArgsType, Field, ID, InputType, registerEnumType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { ImpactAssessment } from './impact-assessment.entity';

/** GDPR Art. 6(1) lawful bases for processing personal data. */
export enum LawfulBasis {
  CONSENT = 'CONSENT',
  CONTRACT = 'CONTRACT',
  LEGAL_OBLIGATION = 'LEGAL_OBLIGATION',
  VITAL_INTERESTS = 'VITAL_INTERESTS',
  PUBLIC_TASK = 'PUBLIC_TASK',
  LEGITIMATE_INTERESTS = 'LEGITIMATE_INTERESTS',
}
registerEnumType(LawfulBasis, { name: 'LawfulBasis', description: 'GDPR Art. 6(1)' });

@InputType()
export class RiskMitigationInput {
  @Field()
  risk: string;

  @Field()
  mitigation: string;
}

@InputType({ description: 'The impact assessment template: every section is required' })
export class ImpactAssessmentInput {
  @Field({ description: 'What the system is for and the decisions it informs' })
  purpose: string;

  @Field({ description: 'Who is affected by its outputs, including vulnerable groups' })
  affectedPeople: string;

  @Field(() => [String], { description: 'Categories of personal data processed (special categories named)' })
  dataCategories: string[];

  @Field(() => LawfulBasis)
  lawfulBasis: LawfulBasis;

  @Field(() => [RiskMitigationInput])
  risksAndMitigations: RiskMitigationInput[];

  @Field({ description: 'How people oversee, override or stop it (EU AI Act Art. 14)' })
  humanOversight: string;

  @Field({
    description: 'Evidence of accuracy and robustness (EU AI Act Art. 15): evaluations, tests, monitoring',
  })
  accuracyAndRobustness: string;
}

@ArgsType()
export class ImpactAssessmentsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

@ArgsType()
export class DecideImpactAssessmentArgs {
  @Field(() => ID)
  id: string;

  @Field()
  approve: boolean;

  @Field(() => String, { nullable: true })
  comment?: string | null;
}

export const ImpactAssessmentConnection = Connection(ImpactAssessment);
