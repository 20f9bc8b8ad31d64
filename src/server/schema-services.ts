import type { GraphQLSchema } from 'graphql';
import type { Services } from './services';

/**
 * The services behind each built schema. type-graphql's `subscribe` functions are static (declared in
 * decorators), so they find their process's services through the schema of the operation
 * (`info.schema`): several hubs in one process (tests) each reach their own.
 */
const bySchema = new WeakMap<GraphQLSchema, Services>();

export function bindServices(schema: GraphQLSchema, services: Services): void {
  bySchema.set(schema, services);
}

export function servicesOf(schema: GraphQLSchema): Services {
  const services = bySchema.get(schema);
  if (!services) throw new Error('this schema was built without services');
  return services;
}
