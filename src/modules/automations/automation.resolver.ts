import {
  Arg,
  Args,
  Ctx,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from 'type-graphql';
import type { AutomationRunJson } from '../../events/catalogue';
import { servicesOf } from '../../server/schema-services';
import { Can } from '../../auth/auth-checker';
import { GraphQLJSONObject } from '../../common/json-scalar';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { Automation, AutomationRun, AutomationStatus } from './automation.entity';
import {
  AutomationRunChangedArgs,
  AutomationConnection,
  AutomationRunConnection,
  AutomationRunsArgs,
  AutomationsArgs,
  AutomationTest,
  CreateAutomationInput,
  UpdateAutomationInput,
} from './automation.types';

@Resolver(() => Automation)
export class AutomationResolver {
  constructor(private readonly services: Services) {}

  @Can('read', 'Automation')
  @Query(() => AutomationConnection, { description: "A project's automations, newest first" })
  automations(
    @Ctx() ctx: RequestContext,
    @Args() args: AutomationsArgs,
  ): Promise<ConnectionResult<Automation>> {
    return this.services.automations.list(ctx, args);
  }

  @Can('read', 'Automation')
  @Query(() => Automation)
  automation(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Automation> {
    return this.services.automations.byId(ctx, id);
  }

  @Can('read', 'Automation')
  @Query(() => AutomationRunConnection, {
    description: "An automation's runs, newest first; step data redacted without readPersonalData",
  })
  async automationRuns(
    @Ctx() ctx: RequestContext,
    @Args() args: AutomationRunsArgs,
  ): Promise<ConnectionResult<AutomationRun>> {
    const page = await this.services.automations.runs(ctx, args);
    const edges = await Promise.all(
      page.edges.map(async (e) => ({
        ...e,
        node: await this.services.dataPolicy.automationRun(ctx, e.node),
      })),
    );
    return { ...page, edges };
  }

  @Can('read', 'Automation')
  @Query(() => AutomationRun)
  async automationRun(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<AutomationRun> {
    return this.services.dataPolicy.automationRun(ctx, await this.services.automations.run(ctx, id));
  }

  @Can('create', 'Automation')
  @Mutation(() => Automation, {
    description: 'A trigger and steps; events committed before it start no run',
  })
  createAutomation(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: CreateAutomationInput,
  ): Promise<Automation> {
    return this.services.automations.create(ctx, input);
  }

  @Can('update', 'Automation')
  @Mutation(() => Automation, { description: 'A new version; runs not yet started carry it out' })
  updateAutomation(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: UpdateAutomationInput,
  ): Promise<Automation> {
    return this.services.automations.update(ctx, input);
  }

  @Can('update', 'Automation')
  @Mutation(() => Automation, { description: 'No new runs until resumed; runs under way finish' })
  pauseAutomation(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Automation> {
    return this.services.automations.setStatus(ctx, id, AutomationStatus.PAUSED);
  }

  @Can('update', 'Automation')
  @Mutation(() => Automation)
  resumeAutomation(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Automation> {
    return this.services.automations.setStatus(ctx, id, AutomationStatus.ACTIVE);
  }

  @Can('operate', 'Automation')
  @Mutation(() => AutomationRun, {
    description:
      'Redelivers a FAILED run (a dead letter) from the step that failed, with that step’s same idempotency key',
  })
  async retryAutomationRun(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
  ): Promise<AutomationRun> {
    return this.services.dataPolicy.automationRun(
      ctx,
      await this.services.automations.retryRun(ctx, id, reason),
    );
  }

  @Can('operate', 'Automation')
  @Mutation(() => AutomationTest, {
    description:
      'A dry run on a trigger document ({record} or {event}): each step’s input and output, no side effect',
  })
  async testAutomation(
    @Ctx() ctx: RequestContext,
    @Arg('automation', () => ID) automation: string,
    @Arg('document', () => GraphQLJSONObject) document: Record<string, unknown>,
  ): Promise<AutomationTest> {
    const result = await this.services.automations.test(ctx, automation, document);
    const { projectId } = await this.services.automations.byId(ctx, automation);
    return this.services.dataPolicy.automationRun(ctx, { ...result, projectId });
  }

  @Can('update', 'Automation')
  @Query(() => String, {
    description:
      'The signing secret (whsec_…) of the automation’s webhooks: receivers of its WEBHOOK steps verify with it, senders to its WEBHOOK trigger sign with it',
  })
  automationSigningSecret(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<string> {
    return this.services.automations.signingSecret(ctx, id);
  }

  @Can('read', 'Automation')
  @Subscription(() => AutomationRun, {
    description:
      'Automation runs of a project as they progress (claimed, each step, retried, done); step inputs and outputs are not carried: query automationRun',
    subscribe: ({
      args,
      context,
      info,
    }: SubscribeResolverData<unknown, AutomationRunChangedArgs, RequestContext>) =>
      servicesOf(info.schema).automationRunSubscriptions.changes(context, args),
  })
  automationRunChanged(
    @Root() run: AutomationRunJson,
    @Args() _args: AutomationRunChangedArgs,
  ): AutomationRunJson {
    return run;
  }
}
