import type { SyncRunJson } from '../../events/catalogue';
import {
  Arg,
  Args,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import { servicesOf } from '../../server/schema-services';
import type { Services } from '../../server/services';
import { Connector, ConnectorStream, SyncRun } from './connector.entity';
import { ConnectorLoaders } from './connector.loaders';
import {
  ConnectorActionResult,
  ConnectorCheck,
  ConnectorConnection,
  ConnectorKind,
  ConnectorsArgs,
  CreateConnectorInput,
  CrmContactConnection,
  CrmContactsArgs,
  CrmDealConnection,
  CrmDealsArgs,
  QueueItemsArgs,
  RpaJobConnection,
  RpaJobsArgs,
  RpaQueueItemConnection,
  RunConnectorActionInput,
  SyncRunChangedArgs,
  SyncRunConnection,
  SyncRunsArgs,
  TicketConnection,
  TicketsArgs,
  UpdateConnectorInput,
} from './connector.types';
import type { CrmContact, CrmDeal, RpaJob, RpaQueueItem, Ticket } from './synced-record.entity';

@Resolver(() => Connector)
export class ConnectorResolver {
  private readonly loaders: ConnectorLoaders;

  constructor(private readonly services: Services) {
    this.loaders = new ConnectorLoaders(services.db);
  }

  @Authorized()
  @Query(() => [ConnectorKind], {
    description: 'The adapters this hub has: config and secrets specs, streams, actions',
  })
  connectorKinds(): ConnectorKind[] {
    return this.services.connectors.kinds();
  }

  @Can('read', 'Connector')
  @Query(() => ConnectorConnection, { description: "A project's connectors, newest first" })
  connectors(@Ctx() ctx: RequestContext, @Args() args: ConnectorsArgs): Promise<ConnectionResult<Connector>> {
    return this.services.connectors.list(ctx, args);
  }

  @Can('read', 'Connector')
  @Query(() => Connector)
  connector(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<Connector> {
    return this.services.connectors.byId(ctx, id);
  }

  @Can('read', 'Connector')
  @Query(() => SyncRunConnection, { description: "A connector's sync runs, newest first" })
  syncRuns(@Ctx() ctx: RequestContext, @Args() args: SyncRunsArgs): Promise<ConnectionResult<SyncRun>> {
    return this.services.connectors.syncRuns(ctx, args);
  }

  @Can('create', 'Connector')
  @Mutation(() => Connector, { description: 'Secrets are encrypted at rest and can be set, never read' })
  createConnector(@Ctx() ctx: RequestContext, @Arg('input') input: CreateConnectorInput): Promise<Connector> {
    return this.services.connectors.create(ctx, input);
  }

  @Can('update', 'Connector')
  @Mutation(() => Connector)
  updateConnector(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('input') input: UpdateConnectorInput,
  ): Promise<Connector> {
    return this.services.connectors.update(ctx, id, input);
  }

  @Can('operate', 'Connector')
  @Mutation(() => ConnectorCheck, { description: 'Tries the config and credentials against the vendor' })
  checkConnector(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string): Promise<ConnectorCheck> {
    return this.services.connectors.check(ctx, id);
  }

  @Can('operate', 'Connector')
  @Mutation(() => SyncRun, {
    description:
      'Starts a sync now and returns its run (follow it with syncRunChanged). While one runs, that one is returned; the same idempotency key returns the same run.',
  })
  syncConnector(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
  ): Promise<SyncRun> {
    return this.services.connectors.sync(ctx, id, idempotencyKey);
  }

  @Can('operate', 'Connector')
  @Mutation(() => ConnectorActionResult, {
    description:
      'Writes into the vendor system: a model decision becomes a queue item for a robot, a ticket update, …',
  })
  runConnectorAction(
    @Ctx() ctx: RequestContext,
    @Arg('input') input: RunConnectorActionInput,
  ): Promise<ConnectorActionResult> {
    return this.services.dataPolicy.actionResult(ctx, input.connector, () =>
      this.services.connectors.act(ctx, input),
    );
  }

  @Can('read', 'Connector')
  @Query(() => TicketConnection, { description: 'Synced tickets, most recently changed first' })
  tickets(@Ctx() ctx: RequestContext, @Args() args: TicketsArgs): Promise<ConnectionResult<Ticket>> {
    const filters = { status: args.statuses, routing: args.routing, tags: args.tag };
    return this.services.dataPolicy.records(ctx, 'ticket', args.project, filters, () =>
      this.services.syncedRecords.tickets(ctx, args),
    );
  }

  @Can('read', 'Connector')
  @Query(() => RpaJobConnection, { description: 'Synced RPA jobs, most recently changed first' })
  rpaJobs(@Ctx() ctx: RequestContext, @Args() args: RpaJobsArgs): Promise<ConnectionResult<RpaJob>> {
    const filters = { state: args.states, release_name: args.releaseName };
    return this.services.dataPolicy.records(ctx, 'rpa_job', args.project, filters, () =>
      this.services.syncedRecords.rpaJobs(ctx, args),
    );
  }

  @Can('read', 'Connector')
  @Query(() => RpaQueueItemConnection, { description: 'Synced RPA queue items, most recently changed first' })
  queueItems(
    @Ctx() ctx: RequestContext,
    @Args() args: QueueItemsArgs,
  ): Promise<ConnectionResult<RpaQueueItem>> {
    const filters = { status: args.statuses, queue_name: args.queueName };
    return this.services.dataPolicy.records(ctx, 'rpa_queue_item', args.project, filters, () =>
      this.services.syncedRecords.queueItems(ctx, args),
    );
  }

  @Can('read', 'Connector')
  @Query(() => CrmContactConnection, { description: 'Synced CRM contacts, most recently changed first' })
  crmContacts(
    @Ctx() ctx: RequestContext,
    @Args() args: CrmContactsArgs,
  ): Promise<ConnectionResult<CrmContact>> {
    const filters = { lifecycle_stage: args.lifecycleStage, email: args.email };
    return this.services.dataPolicy.records(ctx, 'crm_contact', args.project, filters, () =>
      this.services.syncedRecords.crmContacts(ctx, args),
    );
  }

  @Can('read', 'Connector')
  @Query(() => CrmDealConnection, { description: 'Synced CRM deals, most recently changed first' })
  crmDeals(@Ctx() ctx: RequestContext, @Args() args: CrmDealsArgs): Promise<ConnectionResult<CrmDeal>> {
    return this.services.dataPolicy.records(ctx, 'crm_deal', args.project, { stage: args.stages }, () =>
      this.services.syncedRecords.crmDeals(ctx, args),
    );
  }

  @Authorized()
  @FieldResolver(() => [ConnectorStream], { description: 'Where each stream stands' })
  streams(@Ctx() ctx: RequestContext, @Root() connector: Connector): Promise<ConnectorStream[]> {
    return this.loaders.streams(ctx).load(connector.id);
  }

  @Authorized()
  @FieldResolver(() => SyncRun, { nullable: true })
  lastRun(@Ctx() ctx: RequestContext, @Root() connector: Connector): Promise<SyncRun | null> {
    return this.loaders.lastRun(ctx).load(connector.id);
  }

  @Can('read', 'Connector')
  @Subscription(() => SyncRun, {
    description: 'Sync runs of a project as they progress: every page written, then the outcome',
    subscribe: ({
      args,
      context,
      info,
    }: SubscribeResolverData<unknown, SyncRunChangedArgs, RequestContext>) =>
      servicesOf(info.schema).syncRunSubscriptions.changes(context, args),
  })
  syncRunChanged(@Root() run: SyncRunJson, @Args() _args: SyncRunChangedArgs): SyncRunJson {
    return run;
  }
}
