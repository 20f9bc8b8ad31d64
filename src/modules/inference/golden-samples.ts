import { BadInputError } from '../../common/errors';
import type { InferenceRuntime, ModelSource } from './inference-runtime';
import type { Answer, ServingPlan } from './serving-plan';

export interface GoldenSample {
  input: Record<string, unknown>;
  expectedLabel?: string | null;
  expectedValues?: number[] | null;
  tolerance?: number | null;
}

export interface GoldenMismatch {
  sample: number;
  expected: { label?: string; values?: number[] };
  actual: Answer;
}

/** What `ModelVersion.validation` holds. */
export interface GoldenReport {
  samples: number;
  passed: number;
  failed: number;
  mismatches: GoldenMismatch[];
  inputs: Array<Record<string, unknown>>;
}

export const MAX_GOLDEN_SAMPLES = 1_000;
const DEFAULT_TOLERANCE = 1e-4;

/** Checks golden samples' shape and encodes their inputs; errors name `goldenSamples.<i>...`. */
export function encodeGoldenSamples(samples: readonly GoldenSample[], plan: ServingPlan): Float32Array {
  if (samples.length > MAX_GOLDEN_SAMPLES)
    throw new BadInputError('goldenSamples', `must hold at most ${MAX_GOLDEN_SAMPLES} samples`);
  samples.forEach((s, i) => {
    const field = `goldenSamples.${i}`;
    if (plan.task === 'CLASSIFICATION') {
      if (s.expectedLabel == null)
        throw new BadInputError(`${field}.expectedLabel`, 'is required for a classifier');
      if (!plan.labels.includes(s.expectedLabel))
        throw new BadInputError(
          `${field}.expectedLabel`,
          `is not one of the labels (${plan.labels.join(', ')})`,
        );
    } else if (!s.expectedValues?.length) {
      throw new BadInputError(`${field}.expectedValues`, 'is required for a model that is not a classifier');
    }
    if (s.tolerance != null && !(Number.isFinite(s.tolerance) && s.tolerance >= 0))
      throw new BadInputError(`${field}.tolerance`, 'must be a finite number >= 0');
  });
  return plan.preprocessor.encode(
    samples.map((s) => s.input),
    (i) => `goldenSamples.${i}.input`,
  );
}

/**
 * Runs golden samples through the model exactly as serving would (same preprocessing, same runtime)
 * and reports which reproduce their expected answers.
 */
export async function runGoldenSamples(
  runtime: InferenceRuntime,
  source: ModelSource,
  plan: ServingPlan,
  samples: readonly GoldenSample[],
): Promise<GoldenReport> {
  const features = encodeGoldenSamples(samples, plan);
  const answers = plan.decode(
    await runtime.scoreDirect(source, plan, features, samples.length),
    samples.length,
  );
  const mismatches: GoldenMismatch[] = [];
  samples.forEach((s, i) => {
    const actual = answers[i];
    const tolerance = s.tolerance ?? DEFAULT_TOLERANCE;
    const ok =
      s.expectedLabel != null
        ? actual.label === s.expectedLabel
        : actual.values !== undefined &&
          actual.values.length === s.expectedValues!.length &&
          actual.values.every((v, j) => Math.abs(v - s.expectedValues![j]) <= tolerance);
    if (!ok) {
      mismatches.push({
        sample: i,
        expected: s.expectedLabel != null ? { label: s.expectedLabel } : { values: s.expectedValues! },
        actual,
      });
    }
  });
  return {
    samples: samples.length,
    passed: samples.length - mismatches.length,
    failed: mismatches.length,
    mismatches,
    inputs: samples.map((s) => s.input),
  };
}
