import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';

/** The schema as committed in graphql/schema.graphql: sorted, so a diff shows only real changes. */
export function printSchemaSorted(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
