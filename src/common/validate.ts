import { BadInputError } from './errors';

/** Trims and checks a required name-like string. */
export function requireText(field: string, value: string, max = 200): string {
  const text = value.trim();
  if (!text) throw new BadInputError(field, 'must not be empty');
  if (text.length > max) throw new BadInputError(field, `must be at most ${max} characters`);
  return text;
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function requireSlug(field: string, value: string): string {
  if (!SLUG.test(value)) {
    throw new BadInputError(
      field,
      'must be 1 to 63 lowercase letters, digits or dashes, not starting or ending with a dash',
    );
  }
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string): boolean => UUID.test(value);

/** Ids are UUIDs; anything else cannot name a row, so say so before asking the database. */
export function requireId(field: string, value: string): string {
  if (!isUuid(value)) throw new BadInputError(field, 'is not a valid id');
  return value.toLowerCase();
}

const SHA256 = /^[0-9a-f]{64}$/;

export function requireSha256(field: string, value: string): string {
  const hex = value.toLowerCase();
  if (!SHA256.test(hex)) throw new BadInputError(field, 'must be 64 hexadecimal characters (sha256)');
  return hex;
}

/** A JSON object of bounded size whose values are all finite where numeric. */
export function requireJsonObject(
  field: string,
  value: unknown,
  maxBytes = 64 * 1024,
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadInputError(field, 'must be a JSON object');
  }
  if (JSON.stringify(value).length > maxBytes)
    throw new BadInputError(field, `must be at most ${maxBytes} bytes`);
  return value as Record<string, unknown>;
}

// Code units PostgreSQL cannot store in text or jsonb (NUL) or that are not text at all (surrogates, which
// are fine only in pairs). One scan finds a suspect; only then is the pairing looked at.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL could not store this string, or undefined when it can. */
export function unstorable(text: string): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate, which is not text';
  return undefined;
}

interface Unstorable {
  /** From the value down to the string, innermost last; built only once something is found. */
  path: Array<string | number>;
  problem: string;
}

function findUnstorable(value: unknown): Unstorable | undefined {
  if (typeof value === 'string') {
    const problem = unstorable(value);
    return problem ? { path: [], problem } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i]);
      if (found) return (found.path.unshift(i), found);
    }
    return undefined;
  }
  for (const key in value) {
    const problem = unstorable(key);
    // The key itself cannot be shown in the path: the object holding it is named instead.
    if (problem) return { path: [], problem: `has a key that ${problem}` };
    const found = findUnstorable((value as Record<string, unknown>)[key]);
    if (found) return (found.path.unshift(key), found);
  }
  return undefined;
}

/**
 * Refuses a value holding a string, or an object key, that PostgreSQL cannot store, naming where it is
 * (`requestKey`, `points.3.dimensions.region`). It runs on every argument of every operation, so it walks
 * only objects and strings and allocates nothing for clean input. Depth is bounded by the input types and
 * the JSON scalar.
 */
export function refuseUnstorable(field: string, value: unknown): void {
  const found = findUnstorable(value);
  if (found) throw new BadInputError([field, ...found.path].join('.'), found.problem);
}

/**
 * A list of ids that names a set (the projects of a key, the inputs of a run): each must be an id and
 * repeats are dropped (after normalizing case), so whatever is done per id (an audit event, a lookup)
 * happens once; more than `max` distinct ids is refused. Errors name `<field>.<index>`.
 */
export function requireIdSet(field: string, values: readonly string[], max: number): string[] {
  const ids = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    ids.add(requireId(`${field}.${i}`, values[i]));
    if (ids.size > max) throw new BadInputError(field, `must name at most ${max} distinct ids`);
  }
  return [...ids];
}
