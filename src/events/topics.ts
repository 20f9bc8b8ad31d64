/**
 * Topics of the bus that are not domain events: live figures that change every few seconds and are not
 * state (domain events use their type as topic; see catalogue.ts). A topic is also the suffix of its
 * Redis channel (`nerve:<topic>`), so renaming one is a wire change between replicas running different
 * versions.
 */
export const Topics = {
  endpointStats: 'endpoint-stats',
} as const;

/** One of the names in {@link Topics}. */
export type Topic = (typeof Topics)[keyof typeof Topics];
