import type { ValueTransformer } from 'typeorm';

/** `bigint` arrives from pg as a string; every value Nerve stores there fits a double exactly. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
