import type { DataSource } from 'typeorm';

/** What both KPI test tiers check a `kpiSeries` estimate against: a t-interval worked out by hand. */

/** Two-sided 95% critical values of Student's t, from a printed table, by degrees of freedom. */
export const T95: Record<number, number> = { 1: 12.706, 2: 4.303, 3: 3.182, 5: 2.571, 9: 2.262, 18: 2.101 };

export interface Estimate {
  count: number;
  value: number;
  low: number | null;
  high: number | null;
}

/** A KPI point as the tests push it. */
export interface Point {
  kpi: string;
  time: string;
  value: number;
  modelVersionId?: string;
  requestKey?: string;
  sourceRef?: string;
}

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
export const variance = (xs: number[]): number => {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};

/** The mean of `xs` with its 95% t-interval, worked out here with the table's t. */
export function tEstimate(xs: number[]): Estimate {
  const m = mean(xs);
  if (xs.length < 2) return { count: xs.length, value: m, low: null, high: null };
  const half = T95[xs.length - 1] * Math.sqrt(variance(xs) / xs.length);
  return { count: xs.length, value: m, low: m - half, high: m + half };
}

/** Expects an estimate to match, the interval to two decimals (the hub computes t, the test reads a table). */
export function expectEstimate(actual: Estimate, expected: Estimate): void {
  expect(actual.count).toBe(expected.count);
  expect(actual.value).toBeCloseTo(expected.value, 9);
  if (expected.low === null) {
    expect(actual).toMatchObject({ low: null, high: null });
  } else {
    expect(actual.low).toBeCloseTo(expected.low, 2);
    expect(actual.high).toBeCloseTo(expected.high!, 2);
  }
}

/** How many points a project's KPI holds, counted in the database. */
export async function kpiPointCount(db: DataSource, projectId: string, kpi: string): Promise<number> {
  const [{ n }] = (await db.query(
    'SELECT count(*)::int AS n FROM kpi_point p JOIN kpi k ON k.id = p.kpi_id WHERE k.project_id = $1 AND k.key = $2',
    [projectId, kpi],
  )) as Array<{ n: number }>;
  return n;
}
