/** A column of a dataset version. */
export interface ColumnSpec {
  name: string;
  type: 'NUMERIC' | 'CATEGORICAL';
  nullable: boolean;
}

export interface NumericProfile {
  type: 'NUMERIC';
  count: number;
  nullCount: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  /** Bin edges (length bins + 1) from the reference quantiles, and the share of rows in each bin. */
  edges: number[];
  frequencies: number[];
}

export interface CategoricalProfile {
  type: 'CATEGORICAL';
  count: number;
  nullCount: number;
  /** Share of rows per category; rare categories are folded into `__other__`. */
  frequencies: Record<string, number>;
}

export type FeatureProfile = Record<string, NumericProfile | CategoricalProfile>;
