import { Field, InputType } from 'type-graphql';
import { Connection } from '../../common/pagination';
import { Project, RiskLevel } from './project.entity';

@InputType()
export class CreateProjectInput {
  @Field({ description: 'Lowercase letters, digits and dashes; unique' })
  slug: string;

  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => RiskLevel, { nullable: true, defaultValue: RiskLevel.MINIMAL })
  riskLevel?: RiskLevel;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

export const ProjectConnection = Connection(Project);
