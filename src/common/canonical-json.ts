/**
 * JSON with object keys sorted at every level: two values equal as JSON give the same text whatever
 * order their keys were written in (jsonb reorders keys), so the text can be hashed or compared.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
