import { defaultFieldResolver, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { refuseUnstorable } from '../common/validate';

/**
 * Refuses, before any resolver sees them, arguments holding text PostgreSQL cannot store (a NUL, a lone
 * surrogate), in a value or a JSON key, naming the argument path (`requestKey`, `input.dimensions.region`).
 * One check for every field that takes arguments, queries, mutations and subscriptions alike, over HTTP
 * and WebSocket: otherwise such a string is accepted and fails later, in a buffered write that then loses
 * the rows beside it. Fields without arguments are left untouched (no cost on the many plain fields).
 */
export function guardArguments(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!field.args.length) continue;
      field.resolve = guarded(field.resolve ?? defaultFieldResolver);
      if (field.subscribe) field.subscribe = guarded(field.subscribe);
    }
  }
}

function guarded<S, C>(resolve: GraphQLFieldResolver<S, C>): GraphQLFieldResolver<S, C> {
  return (source, args, context, info) => {
    for (const name in args) refuseUnstorable(name, args[name]);
    return resolve(source, args, context, info);
  };
}
