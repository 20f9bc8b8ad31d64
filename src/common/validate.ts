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
