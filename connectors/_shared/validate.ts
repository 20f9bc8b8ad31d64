import type { ConfigValues, FieldSpec, FieldValue } from './contract';
import { badField } from './errors';

/**
 * Checks values against field specs: required fields present, types right, unknown fields refused,
 * defaults applied. Throws a PERMANENT ConnectorError naming `<prefix>.<field>`.
 */
export function validateFields(fields: FieldSpec[], input: unknown, prefix: string): ConfigValues {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw badField(prefix, 'must be an object');
  const values = input as Record<string, unknown>;
  const known = new Set(fields.map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name))
      throw badField(`${prefix}.${name}`, `unknown field; expected one of ${[...known].join(', ')}`);
  }
  const out: ConfigValues = {};
  for (const field of fields) {
    const path = `${prefix}.${field.name}`;
    const value = values[field.name];
    if (value === undefined || value === null || value === '') {
      if (field.required && field.default === undefined) throw badField(path, 'is required');
      if (field.default !== undefined) out[field.name] = field.default;
      continue;
    }
    out[field.name] = coerce(field, value, path);
  }
  return out;
}

function coerce(field: FieldSpec, value: unknown, path: string): FieldValue {
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string') throw badField(path, 'must be a string');
      if (field.oneOf && !field.oneOf.includes(value))
        throw badField(path, `must be one of ${field.oneOf.join(', ')}`);
      return value;
    }
    case 'url': {
      if (typeof value !== 'string') throw badField(path, 'must be a URL');
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw badField(path, 'must be a URL');
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        throw badField(path, 'must be an http(s) URL');
      if (url.username || url.password) throw badField(path, 'must not carry credentials; use the secrets');
      return value.replace(/\/+$/, '');
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw badField(path, 'must be an integer');
      if (field.min !== undefined && value < field.min) throw badField(path, `must be at least ${field.min}`);
      if (field.max !== undefined && value > field.max) throw badField(path, `must be at most ${field.max}`);
      return value;
    }
    case 'boolean': {
      if (typeof value !== 'boolean') throw badField(path, 'must be true or false');
      return value;
    }
    case 'string[]': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        throw badField(path, 'must be a list of strings');
      return value as string[];
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw badField(path, 'must be an object');
      for (const [key, v] of Object.entries(value)) {
        if (!['string', 'number', 'boolean'].includes(typeof v))
          throw badField(`${path}.${key}`, 'must be a string, number or boolean');
      }
      return value as Record<string, string | number | boolean>;
    }
    case 'json': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw badField(path, 'must be an object');
      return value as { [key: string]: unknown };
    }
  }
}
