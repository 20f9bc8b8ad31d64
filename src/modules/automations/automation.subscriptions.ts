import { filterIterator } from '../../common/filter-iterator';
import type { RequestContext } from '../../context/context';
import type { AutomationRunJson } from '../../events/catalogue';
import { subscribeTo } from '../../events/domain';
import type { EventBus } from '../../events/event-bus';
import type { ProjectService } from '../projects/project.service';
import type { AutomationRunChangedArgs } from './automation.types';

export interface AutomationRunSubscriptionsDeps {
  events: EventBus;
  projects: ProjectService;
}

/** `automationRunChanged`: the `automation-run.changed` events of one project (or one automation in it). */
export class AutomationRunSubscriptions {
  private readonly events: EventBus;
  private readonly projects: ProjectService;

  constructor(deps: AutomationRunSubscriptionsDeps) {
    this.events = deps.events;
    this.projects = deps.projects;
  }

  async changes(
    ctx: RequestContext,
    args: AutomationRunChangedArgs,
  ): Promise<AsyncIterableIterator<AutomationRunJson>> {
    const project = await this.projects.resolve(ctx, args.project, 'Automation');
    return filterIterator(
      subscribeTo(this.events, 'automation-run.changed'),
      ({ payload }) =>
        payload.projectId === project.id &&
        (args.automation == null || payload.automationId === args.automation) &&
        ctx.can('read', 'Automation', payload.projectId),
      (event) => event.payload.run,
    );
  }
}
