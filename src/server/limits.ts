import {
  GraphQLError,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  getNamedType,
  isListType,
  getNullableType,
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLOutputType,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type OperationDefinitionNode,
} from 'graphql';
import type { QueryLimits } from '../config/config';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../common/pagination';

function limitError(message: string, node: OperationDefinitionNode): GraphQLError {
  return new GraphQLError(message, { nodes: node, extensions: { code: 'BAD_USER_INPUT', field: 'query' } });
}

/**
 * Depth, alias and cost limits, computed in one walk of each operation (fragments inlined).
 * Cost: every field costs 1, multiplied by the page size of each list above it (`first`, or the
 * default page size), so `projects(first: 100) { models { versions } }` costs what it could fetch.
 * A connection's `edges` is the page its `first` already counted; `first: $variable` counts as the
 * largest page (validation does not see variables, and the default would let a variable dodge the limit).
 * Introspection lists are as long as the schema, not the data: they count 1 and depth bounds them, but
 * `__Type.ofType` follows a type's wrappers (a chain, never a fan-out) and does not deepen the query,
 * which the standard introspection query nests 8 levels deep.
 */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const schema = context.getSchema();

    return {
      OperationDefinition(operation) {
        const root =
          operation.operation === 'query'
            ? schema.getQueryType()
            : operation.operation === 'mutation'
              ? schema.getMutationType()
              : schema.getSubscriptionType();
        let aliases = 0;
        let maxDepth = 0;
        let aborted = false;
        const walk = (
          set: SelectionSetNode,
          type: GraphQLOutputType | null | undefined,
          depth: number,
          multiplier: number,
          seen: Set<string>,
        ): number => {
          if (aborted) return 0;
          if (depth > maxDepth) maxDepth = depth;
          if (depth > limits.maxDepth) {
            aborted = true;
            return 0;
          }
          let cost = 0;
          const named = type ? getNamedType(type) : undefined;
          const inConnection = named !== undefined && named.name.endsWith('Connection');
          const fields: Record<string, GraphQLField<unknown, unknown>> = named && 'getFields' in named
            ? { ...(named.getFields() as Record<string, GraphQLField<unknown, unknown>>) }
            : {};
          if (named && named === root) {
            fields.__schema = SchemaMetaFieldDef;
            fields.__type = TypeMetaFieldDef;
          }
          const inIntrospection = named !== undefined && named.name.startsWith('__');
          for (const selection of set.selections) {
            if (selection.kind === Kind.FIELD) {
              if (selection.alias) aliases++;
              cost += multiplier;
              if (selection.selectionSet) {
                const fieldDef = fields[selection.name.value];
                const fieldType = fieldDef?.type;
                const name = selection.name.value;
                const introspection = inIntrospection || name === '__schema' || name === '__type';
                const size =
                  (inConnection && name === 'edges') || introspection ? 1 : listSize(selection, fieldDef);
                const deeper =
                  inIntrospection && named.name === '__Type' && name === 'ofType' ? depth : depth + 1;
                cost += walk(selection.selectionSet, fieldType, deeper, multiplier * size, seen);
              }
            } else if (selection.kind === Kind.INLINE_FRAGMENT) {
              const inlineType = selection.typeCondition
                ? (schema.getType(selection.typeCondition.name.value) as GraphQLOutputType)
                : type;
              cost += walk(selection.selectionSet, inlineType, depth, multiplier, seen);
            } else {
              const name = selection.name.value;
              const fragment = fragments.get(name);
              if (!fragment || seen.has(name)) continue; // unknown or cyclic: other rules report it
              const next = new Set(seen).add(name);
              const fragmentType = schema.getType(fragment.typeCondition.name.value) as GraphQLOutputType;
              cost += walk(fragment.selectionSet, fragmentType, depth, multiplier, next);
            }
          }
          return cost;
        };
        const cost = walk(operation.selectionSet, root, 1, 1, new Set());
        if (aborted || maxDepth > limits.maxDepth) {
          context.reportError(limitError(`query is deeper than the limit of ${limits.maxDepth}`, operation));
        } else if (aliases > limits.maxAliases) {
          context.reportError(
            limitError(
              `query uses ${aliases} aliases, more than the limit of ${limits.maxAliases}`,
              operation,
            ),
          );
        } else if (cost > limits.maxCost) {
          context.reportError(
            limitError(`query cost ${cost} exceeds the limit of ${limits.maxCost}`, operation),
          );
        }
      },
    };
  };
}

/** What an unpaginated list (a project's models, a version's aliases) is priced at: a typical size. */
export const UNPAGINATED_LIST_SIZE = 10;

/**
 * How many items a list field may return: its `first` argument when literal, the largest page when a
 * variable (whose default the caller may override), the field's declared default page when omitted,
 * and a typical size for a list that takes no `first` at all.
 */
function listSize(field: FieldNode, def: GraphQLField<unknown, unknown> | undefined): number {
  if (!def) return 1;
  const isConnection = getNamedType(def.type).name.endsWith('Connection');
  if (!isListType(getNullableType(def.type)) && !isConnection) return 1;
  const first = field.arguments?.find((a) => a.name.value === 'first')?.value;
  if (first?.kind === Kind.INT) return Math.max(1, Number(first.value));
  if (first?.kind === Kind.VARIABLE) return MAX_PAGE_SIZE;
  const firstArg = def.args.find((a) => a.name === 'first');
  if (!firstArg) return UNPAGINATED_LIST_SIZE;
  return typeof firstArg.defaultValue === 'number' ? firstArg.defaultValue : DEFAULT_PAGE_SIZE;
}

/**
 * The caller's error for a document `parse(…, { maxTokens })` gave up on, or undefined for any other
 * error. graphql-js reports the limit as a syntax error at the token where it stopped; the document is
 * not malformed, it is too long, which is bad input in the `query` field like the other limits.
 */
export function tokenLimitError(error: unknown, maxTokens: number): GraphQLError | undefined {
  // graphql@16 spells it "more that"; a later release may fix the typo.
  const match = /^Syntax Error: Document contains more tha[nt] (\d+) tokens\. Parsing aborted\.$/.exec(
    error instanceof GraphQLError ? error.message : '',
  );
  if (!match || Number(match[1]) !== maxTokens) return undefined;
  return new GraphQLError(`query is longer than the limit of ${maxTokens} tokens`, {
    extensions: { code: 'BAD_USER_INPUT', field: 'query' },
  });
}
