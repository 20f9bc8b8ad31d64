import type { ObjectLiteral, Repository } from 'typeorm';

/** Groups rows by a key, in the order of `keys`, as a DataLoader batch function must answer. */
export function groupBy<T>(keys: readonly string[], rows: T[], keyOf: (row: T) => string): T[][] {
  const groups = new Map<string, T[]>(keys.map((k) => [k, []]));
  for (const row of rows) groups.get(keyOf(row))?.push(row);
  return keys.map((k) => groups.get(k) ?? []);
}

/**
 * For each parent id, its `limit` rows with the highest `order`, highest first: one statement for all
 * parents, ranked by a window function. `parent` and `order` are entity property names.
 */
export async function latestPerParent<T extends ObjectLiteral>(
  repo: Repository<T>,
  options: { parent: keyof T & string; order: keyof T & string; parentIds: readonly string[]; limit: number },
): Promise<T[][]> {
  const column = (property: string): string =>
    repo.metadata.findColumnWithPropertyName(property)!.databaseName;
  const parent = column(options.parent);
  const order = column(options.order);
  const rows = await repo
    .createQueryBuilder('row')
    .where(
      `row.id IN (SELECT ranked.id FROM (
         SELECT t.id, row_number() OVER (PARTITION BY t.${parent} ORDER BY t.${order} DESC) AS rank
         FROM ${repo.metadata.tableName} t WHERE t.${parent} = ANY(:parentIds)
       ) ranked WHERE ranked.rank <= :limit)`,
      { parentIds: [...options.parentIds], limit: options.limit },
    )
    .orderBy(`row.${options.order}`, 'DESC')
    .getMany();
  return groupBy(options.parentIds, rows, (row) => String(row[options.parent]));
}
