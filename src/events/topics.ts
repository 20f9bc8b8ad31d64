/**
 * Topic names shared by publishers (services, jobs) and `@Subscription({ topics })` resolvers. A topic is
 * also the suffix of its Redis channel (`nerve:<topic>`), so renaming one is a wire change between
 * replicas running different versions.
 */
export const Topics = {
  alert: 'alert',
  drift: 'drift',
  endpointStats: 'endpoint-stats',
  rollout: 'rollout',
  syncRun: 'sync-run',
} as const;

/** One of the names in {@link Topics}. */
export type Topic = (typeof Topics)[keyof typeof Topics];
