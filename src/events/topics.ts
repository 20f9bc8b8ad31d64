/**
 * Topic names shared by publishers (services, jobs) and `@Subscription({ topics })` resolvers. A topic is
 * also the suffix of its Redis channel (`nerve:<topic>`), so renaming one is a wire change between
 * replicas running different versions.
 */
export const Topics = {
  alert: 'alert',
  /** `{ keyId }` of a revoked API key: every replica closes its sockets and forgets it. */
  apiKeyRevoked: 'api-key-revoked',
  drift: 'drift',
  endpointStats: 'endpoint-stats',
  rollout: 'rollout',
  syncRun: 'sync-run',
} as const;

/** One of the names in {@link Topics}. */
export type Topic = (typeof Topics)[keyof typeof Topics];
