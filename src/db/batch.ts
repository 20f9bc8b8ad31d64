import type { ObjectLiteral, Repository } from 'typeorm';
import { isConnectionError } from '../common/errors';

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

/**
 * SQLSTATE classes that say nothing about the rows: a transaction rolled back for concurrency (40),
 * the server short of resources (53), a lock not available (55), an operator intervention or a
 * cancelled statement (57), a system or internal error (58, XX).
 * The same rows may well succeed later.
 */
const TRANSIENT_CLASSES = new Set(['40', '53', '55', '57', '58', 'XX']);

/** Whether a failed write should be retried whole, later: the database, not the rows, failed. */
export function isTransientWriteError(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const code =
    (error as { driverError?: { code?: unknown } } | null)?.driverError?.code ??
    (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && TRANSIENT_CLASSES.has(code.slice(0, 2));
}

/**
 * Writes a batch so that one row the database refuses cannot hold back the others: a batch that fails
 * for a reason of its rows is split in halves, recursively, until every good row is written and each
 * refused row stands alone. `settle` is called in row order for every part written (no error) and for
 * every single row refused (with its error), so the caller can drop settled rows from its buffer as
 * they go. A transient failure (the connection, see {@link isTransientWriteError}) is thrown: what was
 * not settled stays for the caller to retry whole.
 */
export async function writeIsolating<T>(
  rows: readonly T[],
  write: (rows: readonly T[]) => Promise<void>,
  settle: (rows: readonly T[], error?: unknown) => void,
): Promise<void> {
  if (rows.length === 0) return;
  try {
    await write(rows);
  } catch (error) {
    if (isTransientWriteError(error)) throw error;
    if (rows.length === 1) {
      settle(rows, error);
      return;
    }
    const half = Math.ceil(rows.length / 2);
    await writeIsolating(rows.slice(0, half), write, settle);
    await writeIsolating(rows.slice(half), write, settle);
    return;
  }
  settle(rows);
}
