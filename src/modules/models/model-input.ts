import { createHash } from 'node:crypto';
import { BadInputError } from '../../common/errors';

/** Alias names: a lowercase letter, then up to 62 lowercase letters, digits, `_` or `-`. */
export const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export function requireAliasName(field: string, value: string): string {
  if (!ALIAS_NAME.test(value)) {
    throw new BadInputError(
      field,
      'must start with a lowercase letter and hold at most 63 lowercase letters, digits, "_" or "-"',
    );
  }
  return value;
}

const MAX_METRICS = 1_000;
const MAX_NAMES = 10_000;
const MAX_NAME_LENGTH = 200;

/** Evaluation metrics: a JSON object whose every value is a finite number; the error names `<field>.<key>`. */
export function requireMetrics(field: string, value: unknown): Record<string, number> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new BadInputError(field, 'must be a JSON object of numbers');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_METRICS)
    throw new BadInputError(field, `must hold at most ${MAX_METRICS} metrics`);
  const metrics: Record<string, number> = {};
  for (const [key, metric] of entries) {
    if (!key.trim() || key.length > MAX_NAME_LENGTH) {
      throw new BadInputError(`${field}.${key}`, `metric names must be 1 to ${MAX_NAME_LENGTH} characters`);
    }
    if (typeof metric !== 'number' || !Number.isFinite(metric)) {
      throw new BadInputError(`${field}.${key}`, `must be a finite number, got ${describe(metric)}`);
    }
    metrics[key] = metric;
  }
  return metrics;
}

/** A list of distinct, non-empty names (feature names, labels); the error names `<field>.<index>`. */
export function requireNames(field: string, value: readonly string[] | null | undefined): string[] {
  if (!value) return [];
  if (value.length > MAX_NAMES) throw new BadInputError(field, `must hold at most ${MAX_NAMES} names`);
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const name = raw.trim();
    if (!name || name.length > MAX_NAME_LENGTH)
      throw new BadInputError(`${field}.${i}`, `must be 1 to ${MAX_NAME_LENGTH} characters`);
    if (seen.has(name)) throw new BadInputError(`${field}.${i}`, `repeats "${name}"`);
    seen.add(name);
    return name;
  });
}

/**
 * JSON with object keys sorted at every depth and no insignificant whitespace, so two specs that mean
 * the same produce the same text (and hash). Non-finite numbers have no JSON form: rejected, naming the path.
 * Not `src/common/canonical-json`: that one (JSON.stringify) puts integer-like keys first in numeric order,
 * this one sorts every key by code unit (as RFC 8785 does), and `preprocessingHash` is public and stored.
 */
export function canonicalJson(value: unknown, field = 'value'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value))
        throw new BadInputError(field, `must be a finite number, got ${describe(value)}`);
      return JSON.stringify(value);
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      if (Array.isArray(value))
        return `[${value.map((v, i) => canonicalJson(v, `${field}.${i}`)).join(',')}]`;
      return `{${Object.keys(value)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map(
          (k) =>
            `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], `${field}.${k}`)}`,
        )
        .join(',')}}`;
    default:
      throw new BadInputError(field, `has no JSON form (${typeof value})`);
  }
}

/** sha256 (hex) of the canonical JSON of a preprocessing spec. */
export function preprocessingHash(spec: Record<string, unknown>, field = 'preprocessing'): string {
  return createHash('sha256').update(canonicalJson(spec, field)).digest('hex');
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
