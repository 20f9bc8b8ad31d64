import { Arg, Args, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { Project, RiskLevel } from '../projects/project.entity';
import { ImpactAssessment } from './impact-assessment.entity';
import {
  DecideImpactAssessmentArgs,
  ImpactAssessmentConnection,
  ImpactAssessmentInput,
  ImpactAssessmentsArgs,
} from './impact-assessment.types';

@Resolver(() => ImpactAssessment)
export class ImpactAssessmentResolver {
  constructor(private readonly services: Services) {}

  @Can('update', 'Project')
  @Mutation(() => Project, {
    description:
      'Reclassifies a project under the EU AI Act. A HIGH-risk project serves only with an approved impact assessment; UNACCEPTABLE never serves',
  })
  setProjectRiskLevel(
    @Ctx() ctx: RequestContext,
    @Arg('project') project: string,
    @Arg('riskLevel', () => RiskLevel) riskLevel: RiskLevel,
    @Arg('reason') reason: string,
  ): Promise<Project> {
    return this.services.impactAssessments.setRiskLevel(ctx, project, riskLevel, reason);
  }

  @Can('read', 'ImpactAssessment')
  @Query(() => ImpactAssessmentConnection, {
    description: "A project's impact assessments, newest version first",
  })
  impactAssessments(
    @Ctx() ctx: RequestContext,
    @Args() args: ImpactAssessmentsArgs,
  ): Promise<ConnectionResult<ImpactAssessment>> {
    return this.services.impactAssessments.list(ctx, args);
  }

  @Can('create', 'ImpactAssessment')
  @Mutation(() => ImpactAssessment, {
    description:
      'Submits a new version of the project’s impact assessment (every template section required); an approver other than the author decides it',
  })
  submitImpactAssessment(
    @Ctx() ctx: RequestContext,
    @Arg('project') project: string,
    @Arg('sections') sections: ImpactAssessmentInput,
    @Arg('idempotencyKey', () => String, {
      nullable: true,
      description: 'A retry with the same key returns the version the first call submitted',
    })
    idempotencyKey: string | null,
  ): Promise<ImpactAssessment> {
    return this.services.impactAssessments.submit(ctx, project, sections, idempotencyKey);
  }

  @Can('approve', 'ImpactAssessment')
  @Mutation(() => ImpactAssessment, { description: 'Approves or rejects the latest submitted version' })
  decideImpactAssessment(
    @Ctx() ctx: RequestContext,
    @Args() args: DecideImpactAssessmentArgs,
  ): Promise<ImpactAssessment> {
    return this.services.impactAssessments.decide(ctx, args.id, args.approve, args.comment);
  }
}
