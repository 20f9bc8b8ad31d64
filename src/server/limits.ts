import {
  GraphQLError,
  Kind,
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
import { DEFAULT_PAGE_SIZE } from '../common/pagination';

function limitError(message: string, node: OperationDefinitionNode): GraphQLError {
  return new GraphQLError(message, { nodes: node, extensions: { code: 'BAD_USER_INPUT', field: 'query' } });
}

/**
 * Depth, alias and cost limits, computed in one walk of each operation (fragments inlined).
 * Cost: every field costs 1, multiplied by the page size of each list above it (`first`, or the
 * default page size), so `projects(first: 100) { models { versions } }` costs what it could fetch.
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
          const fields =
            named && 'getFields' in named ? (named.getFields() as Record<string, GraphQLField<unknown, unknown>>) : {};
          for (const selection of set.selections) {
            if (selection.kind === Kind.FIELD) {
              if (selection.alias) aliases++;
              cost += multiplier;
              if (selection.selectionSet) {
                const fieldType = fields[selection.name.value]?.type;
                const inner = multiplier * listSize(selection, fieldType);
                cost += walk(selection.selectionSet, fieldType, depth + 1, inner, seen);
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
          context.reportError(limitError(`query uses ${aliases} aliases, more than the limit of ${limits.maxAliases}`, operation));
        } else if (cost > limits.maxCost) {
          context.reportError(limitError(`query cost ${cost} exceeds the limit of ${limits.maxCost}`, operation));
        }
      },
    };
  };
}

/** How many items a list field may return: its `first` argument when literal, else the default page. */
function listSize(field: FieldNode, type: GraphQLOutputType | undefined): number {
  if (!type) return 1;
  const isConnection = getNamedType(type).name.endsWith('Connection');
  if (!isListType(getNullableType(type)) && !isConnection) return 1;
  const first = field.arguments?.find((a) => a.name.value === 'first');
  if (first?.value.kind === Kind.INT) return Math.max(1, Number(first.value.value));
  return DEFAULT_PAGE_SIZE;
}
