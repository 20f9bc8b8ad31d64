import { Field, ObjectType, ArgsType, Int, type ClassType } from 'type-graphql';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { BadInputError } from './errors';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field()
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true })
  startCursor: string | null;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, {
    nullable: true,
    description: `Page size, 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`,
  })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'The endCursor of the previous page' })
  after?: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionResult<T> {
  edges: Array<Edge<T>>;
  pageInfo: PageInfo;
}

/** A Relay connection type `<Name>Connection` with edges of `<Name>Edge`. */
export function Connection<T extends object>(node: ClassType<T>, name = node.name) {
  @ObjectType(`${name}Edge`)
  class EdgeType {
    @Field({ description: 'Opaque; pass as `after` to continue from here' })
    cursor: string;

    @Field(() => node)
    node: T;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionType {
    @Field(() => [EdgeType])
    edges: Array<Edge<T>>;

    @Field(() => PageInfo)
    pageInfo: PageInfo;
  }
  return ConnectionType;
}

/** Validates and defaults a page size. */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadInputError('first', `must be between 1 and ${MAX_PAGE_SIZE}, got ${first}`);
  }
  return first;
}

type KeyValue = string | number;

function encodeCursor(values: KeyValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

function decodeCursor(cursor: string, arity: number): KeyValue[] {
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(values) &&
      values.length === arity &&
      values.every((v) => typeof v === 'string' || typeof v === 'number')
    ) {
      return values as KeyValue[];
    }
  } catch {
    // falls through to the error below
  }
  throw new BadInputError('after', 'is not a cursor this list gave out');
}

function keyValue(value: unknown): KeyValue {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
}

/**
 * Keyset pagination over `keys` (entity properties, the last one unique), newest first by default.
 * The cursor holds the last row's key values, so pages stay stable while rows are added.
 */
export async function paginate<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  args: PageArgs,
  options: { keys?: Array<keyof T & string>; order?: 'ASC' | 'DESC' } = {},
): Promise<ConnectionResult<T>> {
  const keys = options.keys ?? ['createdAt', 'id'];
  const order = options.order ?? 'DESC';
  const first = pageSize(args.first);
  const alias = qb.alias;
  if (args.after) {
    const values = decodeCursor(args.after, keys.length);
    const columns = keys.map((k) => `${alias}.${k}`).join(', ');
    const params = keys.map((_, i) => `:_after${i}`).join(', ');
    qb.andWhere(
      `(${columns}) ${order === 'DESC' ? '<' : '>'} (${params})`,
      Object.fromEntries(values.map((v, i) => [`_after${i}`, v])),
    );
  }
  keys.forEach((k, i) =>
    i === 0 ? qb.orderBy(`${alias}.${k}`, order) : qb.addOrderBy(`${alias}.${k}`, order),
  );
  const rows = await qb.limit(first + 1).getMany();
  const hasNextPage = rows.length > first;
  const edges = rows
    .slice(0, first)
    .map((node) => ({ cursor: encodeCursor(keys.map((k) => keyValue(node[k]))), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: Boolean(args.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
