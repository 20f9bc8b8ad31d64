import type { MiddlewareInterface, NextFn, ResolverData } from 'type-graphql';
import type { RequestContext } from '../../context/context';
import type { Services } from '../../server/services';
import type { Dataset, DatasetVersion } from './dataset.entity';

/**
 * Resolves `DatasetVersion.dataset` through the request's dataset loader.
 *
 * Why a middleware rather than a `@FieldResolver`: the schema registers one resolver class per module
 * (`DatasetResolver`, bound to `Dataset`), and type-graphql only keeps field resolvers of registered
 * classes. Middleware classes come from the same container as resolvers, so this one still gets the
 * services; it answers the field itself and never calls `next`.
 */
export class DatasetOfVersion implements MiddlewareInterface<RequestContext> {
  constructor(private readonly services: Services) {}

  use({ root, context }: ResolverData<RequestContext>, _next: NextFn): Promise<Dataset> {
    return this.services.datasets.datasetOf(context, root as DatasetVersion);
  }
}
