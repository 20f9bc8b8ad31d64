/** How a column is profiled: binned numbers, or category frequencies. */
export type ColumnType = 'NUMERIC' | 'CATEGORICAL';

/** A column of a dataset version. */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** True when at least one row has no value in this column. */
  nullable: boolean;
}

/**
 * A numeric column. `count` counts non-null values. With no values at all (`count` 0) the statistics
 * are null and there are no bins.
 */
export interface NumericProfile {
  type: 'NUMERIC';
  count: number;
  nullCount: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Population standard deviation. */
  std: number | null;
  /**
   * Bin edges (length bins + 1) from the reference deciles, ascending, first = min and last = max;
   * a constant column has one bin `[v, v]`. A value falls in bin i when edges[i] <= v < edges[i+1],
   * the last bin also holding the maximum.
   */
  edges: number[];
  /** Share of the non-null values in each bin; sums to 1. */
  frequencies: number[];
}

export interface CategoricalProfile {
  type: 'CATEGORICAL';
  count: number;
  nullCount: number;
  /** Share of the non-null values per category; categories past the top 50 are folded into `__other__`. */
  frequencies: Record<string, number>;
}

export type FeatureProfile = Record<string, NumericProfile | CategoricalProfile>;
