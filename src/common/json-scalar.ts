import { GraphQLError, GraphQLScalarType, Kind, type ObjectValueNode, type ValueNode } from 'graphql';
import { GraphQLJSONObject as UnboundedJSONObject } from 'graphql-scalars';
import { ErrorCode } from './errors';

/**
 * How deeply a JSON argument may nest. Open-shaped inputs (features, params, config, card extras) are
 * a few levels deep; anything deeper is an attack on whatever walks it next (JSON.stringify, jsonb).
 */
export const MAX_JSON_DEPTH = 64;

const tooDeep = `JSONObject cannot represent a value nested deeper than ${MAX_JSON_DEPTH} levels`;
const notObject = 'JSONObject cannot represent a value that is not an object';

/**
 * Whether `value` nests deeper than `budget` levels. Recursion is safe because it stops at the budget, and
 * it allocates nothing, which matters on `predict`'s path.
 */
function exceedsDepth(value: unknown, budget: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (budget === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (exceedsDepth(item, budget - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (exceedsDepth((value as Record<string, unknown>)[key], budget - 1)) return true;
  }
  return false;
}

const variableError = (message: string): GraphQLError =>
  new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT } });

function parseValue(value: unknown): Record<string, unknown> {
  // graphql-js reports a GraphQLError from here under the variable's path. Its message quotes no value, and
  // its code tells formatError so (which cuts other scalars' messages back to the type).
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw variableError(notObject);
  if (exceedsDepth(value, MAX_JSON_DEPTH)) throw variableError(tooDeep);
  return value as Record<string, unknown>;
}

/**
 * A literal in the query document. Its errors surface during validation, where the argument's name is not
 * known; they carry BAD_USER_INPUT and name the query itself, as the other limits on the document do.
 */
function literalError(message: string, node: ValueNode): GraphQLError {
  return new GraphQLError(message, {
    nodes: node,
    extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'query' },
  });
}

function parseLiteralValue(
  node: ValueNode,
  variables: Record<string, unknown> | null | undefined,
  depth: number,
): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.VARIABLE: {
      const value = variables?.[node.name.value];
      if (exceedsDepth(value, MAX_JSON_DEPTH - depth)) throw literalError(tooDeep, node);
      return value;
    }
    case Kind.LIST:
      if (depth >= MAX_JSON_DEPTH) throw literalError(tooDeep, node);
      return node.values.map((item) => parseLiteralValue(item, variables, depth + 1));
    case Kind.OBJECT:
      return parseLiteralObject(node, variables, depth);
  }
}

function parseLiteralObject(
  node: ObjectValueNode,
  variables: Record<string, unknown> | null | undefined,
  depth: number,
): Record<string, unknown> {
  if (depth >= MAX_JSON_DEPTH) throw literalError(tooDeep, node);
  const object: Record<string, unknown> = Object.create(null);
  for (const field of node.fields)
    object[field.name.value] = parseLiteralValue(field.value, variables, depth + 1);
  return object;
}

/**
 * Nerve's `JSONObject`: graphql-scalars' scalar (same name, description and serialization, so the schema
 * does not change) with a bounded depth, for variables and literals alike. Every JSON argument uses this
 * one; an ESLint rule keeps graphql-scalars' unbounded one out.
 */
export const GraphQLJSONObject = new GraphQLScalarType({
  ...UnboundedJSONObject.toConfig(),
  parseValue,
  parseLiteral: (node, variables) => {
    if (node.kind !== Kind.OBJECT) throw literalError(notObject, node);
    return parseLiteralObject(node, variables, 0);
  },
});
