import { Args, Arg, Ctx, Query, Resolver } from 'type-graphql';
import { Can } from '../../auth/auth-checker';
import type { ConnectionResult } from '../../common/pagination';
import { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import { AuditEvent } from '../../platform/audit/audit-event.entity';
import { AuditChainReport, AuditEventConnection, AuditLogArgs } from './audit.types';

@Resolver(() => AuditEvent)
export class AuditResolver {
  constructor(private readonly services: Services) {}

  @Can('read', 'AuditEvent')
  @Query(() => AuditEventConnection, {
    description: 'A project’s audit trail, newest first; for admins and auditors of the project',
  })
  auditLog(@Ctx() ctx: RequestContext, @Args() args: AuditLogArgs): Promise<ConnectionResult<AuditEvent>> {
    return this.services.audit.list(ctx, args);
  }

  @Can('read', 'AuditEvent')
  @Query(() => AuditChainReport, {
    description: 'Recomputes the project’s hash chain and names the first broken link, if any',
  })
  verifyAuditChain(@Ctx() ctx: RequestContext, @Arg('project') project: string): Promise<AuditChainReport> {
    return this.services.audit.verify(ctx, project);
  }
}
