import { randomUUID } from 'node:crypto';
import { BadInputError, DomainError, InferenceFailedError } from '../../common/errors';
import { murmur3 } from '../../common/murmur3';
import { requireText } from '../../common/validate';
import type { TrafficRole } from '../endpoints/endpoint.service';
import { OnnxLoadError } from '../inference/onnx-signature';
import type { Preprocessor } from '../inference/preprocessing';
import type { Answer } from '../inference/serving-plan';
import type { Prediction } from './prediction.types';

// What a prediction request is made of, apart from serving it: request keys, sampling, encoding in
// event-loop-sized chunks, the answer's shape and the errors a caller sees.

const MAX_KEY_LENGTH = 200;
/** Rows encoded per event-loop turn in a large batch: 1,000 ticket rows at once held the loop for 8-20 ms. */
export const ENCODE_CHUNK_ROWS = 64;

export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** `preprocessor.encode`, {@link ENCODE_CHUNK_ROWS} rows per event-loop turn. */
export async function encodeInChunks(
  preprocessor: Preprocessor,
  rows: readonly unknown[],
  fieldOf: (row: number) => string,
): Promise<Float32Array> {
  const out = new Float32Array(rows.length * preprocessor.width);
  for (let start = 0; start < rows.length; start += ENCODE_CHUNK_ROWS) {
    if (start > 0) await nextTurn();
    preprocessor.encodeRows(rows, fieldOf, out, start, Math.min(rows.length, start + ENCODE_CHUNK_ROWS));
  }
  return out;
}

/** A sampled request is logged; the decision depends only on the key, so a retry decides the same. */
export function sampled(rate: number, key: string): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return murmur3(key, 0x5a3) / 0x1_0000_0000 < rate;
}

export function requireKey(field: string, key: string): string {
  if (key.length < 1 || key.length > MAX_KEY_LENGTH)
    throw new BadInputError(field, `must be 1 to ${MAX_KEY_LENGTH} characters`);
  return key;
}

/**
 * Keys for a batch: the caller's (one per row, distinct), or derived from the idempotency key so a
 * retry logs under the same keys, or fresh.
 */
export function batchKeys(
  given: string[] | null | undefined,
  rows: number,
  idempotencyKey: string | null | undefined,
): string[] {
  if (given != null) {
    if (given.length !== rows)
      throw new BadInputError('requestKeys', `must hold one key per input (${rows}), got ${given.length}`);
    const seen = new Set<string>();
    given.forEach((key, i) => {
      requireKey(`requestKeys.${i}`, key);
      if (seen.has(key)) throw new BadInputError(`requestKeys.${i}`, `repeats "${key.slice(0, 40)}"`);
      seen.add(key);
    });
    return given;
  }
  const base =
    idempotencyKey == null ? randomUUID() : `batch:${requireText('idempotencyKey', idempotencyKey)}`;
  return Array.from({ length: rows }, (_, i) => `${base}:${i}`);
}

export function toPrediction(
  endpoint: string,
  versionId: string,
  version: number,
  role: TrafficRole,
  requestKey: string,
  answer: Answer,
  latencyMs: number,
): Prediction {
  return {
    requestKey,
    endpoint,
    modelVersionId: versionId,
    modelVersion: version,
    routedTo: role as Prediction['routedTo'],
    label: answer.label ?? null,
    score: answer.score ?? null,
    scores: answer.scores ?? null,
    values: answer.values ?? null,
    latencyMs,
  };
}

/** Errors a caller can act on pass through; a model that cannot be loaded says so without internals. */
export function asServingError(error: unknown): unknown {
  if (error instanceof DomainError) return error;
  if (error instanceof OnnxLoadError)
    return new InferenceFailedError(`the model cannot be loaded: ${error.reason}`);
  return error;
}

export function failureMessage(error: unknown): string {
  if (error instanceof DomainError) return `${error.code}: ${error.message}`;
  if (error instanceof OnnxLoadError) return `load failed: ${error.reason}`;
  return error instanceof Error ? error.message : String(error);
}

export const round = (ms: number): number => Math.round(ms * 1000) / 1000;
