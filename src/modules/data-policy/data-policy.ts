import { createHmac, hkdfSync } from 'node:crypto';
import { BadInputError } from '../../common/errors';
import { RECORD_TABLES } from '../connectors/record-tables';
import type { DataPolicyValue } from '../projects/project.entity';

/** How a personal value is shown to those without the right to see it, and how it is logged. */
export enum PersonalDataTreatment {
  /** Replaced by {@link REDACTED}. */
  REDACT = 'REDACT',
  /** Replaced by a keyed HMAC-SHA256: equal values stay equal (joins, counts), the value is not recoverable. */
  HASH = 'HASH',
}

/** What a redacted value reads as. */
export const REDACTED = '[redacted]';
/** What a synced record's `raw` reads as when its table holds personal fields. */
export const REDACTED_RAW: Readonly<Record<string, unknown>> = Object.freeze({ redacted: true });
/** The scope of a prediction input feature: `prediction.<feature>`. */
export const PREDICTION_SCOPE = 'prediction';

const MAX_FIELDS = 500;
const MAX_FEATURE_NAME = 200;
const MAX_RETENTION_DAYS = 36_500;

/**
 * The synced tables and what of each may be marked personal: its text columns and `raw` (the vendor's
 * object). Timestamps, numbers and identifiers Nerve joins on (external id, request key) are not.
 */
export const PERSONAL_RECORD_FIELDS: ReadonlyMap<string, readonly string[]> = new Map(
  Object.values(RECORD_TABLES).map(({ table, columns }) => [
    table,
    [...columns.filter((c) => c.type === 'text' || c.type === 'text[]').map((c) => c.name), 'raw'],
  ]),
);

/** A policy ready for use: marked fields by scope. */
export interface CompiledPolicy {
  treatment: PersonalDataTreatment;
  /** Input features of predictions marked personal. */
  features: ReadonlySet<string>;
  /** Per synced table, its marked columns (`raw` included when marked). */
  tables: ReadonlyMap<string, ReadonlySet<string>>;
  predictionRetentionDays: number | null;
  syncedRecordRetentionDays: number | null;
}

/** What `setDataPolicy` takes, as the GraphQL input gives it. */
export interface DataPolicyInputValue {
  personalFields?: readonly string[] | null;
  treatment?: PersonalDataTreatment | null;
  predictionRetentionDays?: number | null;
  syncedRecordRetentionDays?: number | null;
}

/**
 * Checks a policy, naming the offending field (`policy.personalFields.3`), and returns it as stored:
 * fields trimmed and deduplicated in the order given, treatment defaulted to REDACT.
 */
export function validDataPolicy(input: DataPolicyInputValue, field = 'policy'): Required<DataPolicyValue> {
  const given = input.personalFields ?? [];
  if (given.length > MAX_FIELDS)
    throw new BadInputError(`${field}.personalFields`, `must hold at most ${MAX_FIELDS} fields`);
  const personalFields: string[] = [];
  given.forEach((raw, i) => {
    const name = checkField(raw.trim(), `${field}.personalFields.${i}`);
    if (!personalFields.includes(name)) personalFields.push(name);
  });
  return {
    personalFields,
    treatment: input.treatment === PersonalDataTreatment.HASH ? 'HASH' : 'REDACT',
    predictionRetentionDays: retentionDays(input.predictionRetentionDays, `${field}.predictionRetentionDays`),
    syncedRecordRetentionDays: retentionDays(
      input.syncedRecordRetentionDays,
      `${field}.syncedRecordRetentionDays`,
    ),
  };
}

function checkField(name: string, field: string): string {
  const dot = name.indexOf('.');
  const scope = dot < 0 ? name : name.slice(0, dot);
  const rest = dot < 0 ? '' : name.slice(dot + 1);
  const scopes = [PREDICTION_SCOPE, ...PERSONAL_RECORD_FIELDS.keys()].join(', ');
  if (scope === PREDICTION_SCOPE) {
    if (!rest || rest.length > MAX_FEATURE_NAME)
      throw new BadInputError(
        field,
        `must be prediction.<feature>, the feature 1 to ${MAX_FEATURE_NAME} characters`,
      );
    return name;
  }
  const columns = PERSONAL_RECORD_FIELDS.get(scope);
  if (!columns)
    throw new BadInputError(
      field,
      `"${name.slice(0, 60)}" must be <scope>.<field>, the scope one of ${scopes}`,
    );
  if (!columns.includes(rest))
    throw new BadInputError(
      field,
      `"${name.slice(0, 60)}" is not a field of ${scope} that can hold personal data (${columns.join(', ')})`,
    );
  return name;
}

function retentionDays(value: number | null | undefined, field: string): number | null {
  if (value == null) return null;
  if (!Number.isInteger(value) || value < 1 || value > MAX_RETENTION_DAYS)
    throw new BadInputError(field, `must be a whole number of days, 1 to ${MAX_RETENTION_DAYS}, or null`);
  return value;
}

/**
 * A stored policy, compiled. The column is only ever written through {@link validDataPolicy}; entries
 * no longer valid (a column since dropped) are skipped rather than failing every read.
 */
export function compilePolicy(value: DataPolicyValue | null | undefined): CompiledPolicy {
  const features = new Set<string>();
  const tables = new Map<string, Set<string>>();
  for (const name of value?.personalFields ?? []) {
    const dot = name.indexOf('.');
    if (dot < 0) continue;
    const scope = name.slice(0, dot);
    const rest = name.slice(dot + 1);
    if (scope === PREDICTION_SCOPE) features.add(rest);
    else if (PERSONAL_RECORD_FIELDS.get(scope)?.includes(rest)) {
      const columns = tables.get(scope) ?? new Set<string>();
      columns.add(rest);
      tables.set(scope, columns);
    }
  }
  return {
    treatment: value?.treatment === 'HASH' ? PersonalDataTreatment.HASH : PersonalDataTreatment.REDACT,
    features,
    tables,
    predictionRetentionDays: value?.predictionRetentionDays ?? null,
    syncedRecordRetentionDays: value?.syncedRecordRetentionDays ?? null,
  };
}

/** Hashes a value's canonical text. */
export type Hasher = (text: string) => string;

/**
 * A project's keyed hash: HMAC-SHA256 under a key derived (HKDF) from the hub's secret key and the
 * project id, shown as `hmac:` and 128 bits in hex. Without the secret key a dictionary of likely
 * values (emails, names) cannot be hashed to match; across projects the same value hashes apart.
 */
export function projectHasher(secret: Buffer, projectId: string): Hasher {
  const key = Buffer.from(hkdfSync('sha256', secret, projectId, 'nerve personal data v1', 32));
  return (text) => `hmac:${createHmac('sha256', key).update(text).digest('hex').slice(0, 32)}`;
}

/**
 * What a personal value becomes. Null stays null (absence is not personal data); an array is treated
 * element by element (a tag list stays a list); anything else is hashed as its JSON text, so the
 * string "42" and the number 42 hash apart and a value hashes alike wherever it comes from.
 */
export function valueMask(
  treatment: PersonalDataTreatment,
  hash: Hasher | null,
): (value: unknown) => unknown {
  const one = (value: unknown): unknown => {
    if (value == null) return value;
    if (Array.isArray(value)) return value.map(one);
    if (treatment === PersonalDataTreatment.HASH && hash) return hash(JSON.stringify(value));
    return REDACTED;
  };
  return one;
}

/**
 * A prediction input with its personal features masked (a copy: the caller's object is also scored
 * by a shadow version), or null when the policy marks no feature.
 */
export function featureMasker(
  policy: CompiledPolicy,
  mask: (value: unknown) => unknown,
): ((features: unknown) => unknown) | null {
  if (policy.features.size === 0) return null;
  const names = [...policy.features];
  return (features) => {
    if (!features || typeof features !== 'object' || Array.isArray(features)) return features;
    const row = features as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const name of names) {
      if (!(name in row)) continue;
      out ??= { ...row };
      out[name] = mask(row[name]);
    }
    return out ?? features;
  };
}

const camel = (column: string): string => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * A synced record of `table` with its personal columns masked, or null when the table has none. Its
 * `raw` becomes {@link REDACTED_RAW} whenever any of its fields is marked: the vendor's object holds its
 * own copy of every column (and more personal data besides, in keys Nerve does not map).
 */
export function recordMasker(
  table: string,
  policy: CompiledPolicy,
  mask: (value: unknown) => unknown,
): (<T extends object>(record: T) => T) | null {
  const columns = policy.tables.get(table);
  if (!columns?.size) return null;
  const properties = [...columns].filter((c) => c !== 'raw').map(camel);
  return <T extends object>(record: T): T => {
    const out = { ...record } as Record<string, unknown>;
    for (const p of properties) out[p] = mask(out[p]);
    out.raw = REDACTED_RAW;
    return out as T;
  };
}
