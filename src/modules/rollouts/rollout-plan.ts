import { BadInputError } from '../../common/errors';
import type { Endpoint } from '../endpoints/endpoint.entity';
import type { Outcome, Verdict } from './rollout-analysis';
import {
  AnalysisMetric,
  RolloutEventType,
  RolloutStrategy,
  type Analysis,
  type Rollout,
  type RolloutStep,
} from './rollout.entity';
import type { AnalysisInput, RolloutStepInput } from './rollout.types';

/**
 * The rollout plan, without I/O: the steps and analysis a deploy asks for (defaults filled, bounds
 * checked), the traffic each phase routes, and what a verdict, a passed step or an approval leads to.
 * The services apply these decisions inside their transactions.
 */

const MAX_STEPS = 20;
const MAX_PAUSE_MINUTES = 7 * 24 * 60;

/** An endpoint's split: what `EndpointService.applyTraffic` writes. */
export type Traffic = Pick<
  Endpoint,
  'stableVersionId' | 'canaryVersionId' | 'canaryWeight' | 'shadowVersionId'
>;

type Versions = Pick<Rollout, 'fromVersionId' | 'toVersionId'>;

/** What a step-by-step rollout does once its current step passed its analysis and its pause. */
export type PhaseAfterStep =
  /** The last step of a SHADOW rollout: it waits, analysed and passing, for a person to promote. */
  | { kind: 'AWAIT_PROMOTION' }
  /** The last step of any other strategy: the candidate takes all traffic. */
  | { kind: 'PROMOTE' }
  /** The next step is a manual gate: it waits for an approver. */
  | { kind: 'GATE'; step: number }
  /** The next step starts. */
  | { kind: 'STEP'; step: number };

/** What an analysis verdict does to a progressing rollout. */
export interface AfterVerdict {
  /** The failed analyses counted once this verdict is. */
  failures: number;
  /** Roll back (one failure over the limit), move on (passed, and the step's pause is over), or wait. */
  next: 'ROLL_BACK' | 'NEXT_STEP' | 'WAIT';
}

/** The steps of a deploy: given ones checked, else the strategy's defaults. IMMEDIATE has none. */
export function checkSteps(
  strategy: RolloutStrategy,
  input: RolloutStepInput[] | null | undefined,
): RolloutStep[] {
  if (strategy === RolloutStrategy.IMMEDIATE) {
    if (input?.length) throw new BadInputError('steps', 'an IMMEDIATE rollout has no steps');
    return [];
  }
  const defaults: RolloutStepInput[] =
    strategy === RolloutStrategy.CANARY
      ? [5, 25, 50, 100].map((weight) => ({ weight, pauseMinutes: 5, manualGate: false }))
      : [{ pauseMinutes: 30, manualGate: false }];
  const steps = input?.length ? input : defaults;
  if (steps.length > MAX_STEPS) throw new BadInputError('steps', `must hold at most ${MAX_STEPS} steps`);
  if (strategy !== RolloutStrategy.CANARY && steps.length !== 1)
    throw new BadInputError('steps', `a ${strategy} rollout has one phase: give one step`);
  let previous = 0;
  return steps.map((s, i) => {
    const pauseMinutes = s.pauseMinutes ?? 5;
    if (!(Number.isFinite(pauseMinutes) && pauseMinutes >= 0 && pauseMinutes <= MAX_PAUSE_MINUTES))
      throw new BadInputError(`steps.${i}.pauseMinutes`, `must be from 0 to ${MAX_PAUSE_MINUTES}`);
    let weight = 0;
    if (strategy === RolloutStrategy.CANARY) {
      weight = s.weight ?? NaN;
      if (!(weight > previous && weight <= 100))
        throw new BadInputError(
          `steps.${i}.weight`,
          `must rise from step to step, above ${previous} and at most 100`,
        );
      previous = weight;
    } else if (s.weight != null && s.weight !== 0) {
      throw new BadInputError(
        `steps.${i}.weight`,
        `a ${strategy} candidate is mirrored, not weighted: leave it out`,
      );
    }
    return { weight, pauseMinutes, manualGate: s.manualGate ?? false };
  });
}

/** The analysis of a deploy: given bounds checked, else latency, error rate and drift against stable. */
export function checkAnalysis(strategy: RolloutStrategy, input: AnalysisInput | null | undefined): Analysis {
  const intervalMinutes = input?.intervalMinutes ?? 1;
  if (!(Number.isFinite(intervalMinutes) && intervalMinutes > 0 && intervalMinutes <= 24 * 60))
    throw new BadInputError('analysis.intervalMinutes', 'must be above 0 and at most 1440');
  const minSamples = input?.minSamples ?? 50;
  if (!(Number.isInteger(minSamples) && minSamples >= 1 && minSamples <= 1_000_000))
    throw new BadInputError('analysis.minSamples', 'must be a whole number from 1 to 1,000,000');
  const failureLimit = input?.failureLimit ?? 0;
  if (!(Number.isInteger(failureLimit) && failureLimit >= 0 && failureLimit <= 100))
    throw new BadInputError('analysis.failureLimit', 'must be a whole number from 0 to 100');
  const conditions = input?.conditions?.length
    ? input.conditions
    : [
        { metric: AnalysisMetric.P95_LATENCY, maxRatio: 1.5 },
        { metric: AnalysisMetric.ERROR_RATE, maxIncrease: 0.02 },
        { metric: AnalysisMetric.DRIFT },
      ];
  conditions.forEach((c, i) => {
    const field = `analysis.conditions.${i}`;
    const bounds = [c.maxRatio, c.maxIncrease, c.maxDecrease, c.max, c.min].filter((b) => b != null);
    if (bounds.some((b) => !Number.isFinite(b) || (b as number) < 0))
      throw new BadInputError(field, 'bounds must be finite numbers >= 0');
    if (c.metric !== AnalysisMetric.DRIFT && bounds.length === 0)
      throw new BadInputError(
        field,
        `${c.metric} needs a bound (maxRatio, maxIncrease, maxDecrease, max or min)`,
      );
    if (c.metric === AnalysisMetric.AGREEMENT && strategy === RolloutStrategy.CANARY)
      throw new BadInputError(field, 'AGREEMENT compares mirrored answers: SHADOW and BLUE_GREEN only');
  });
  return {
    intervalMinutes,
    minSamples,
    failureLimit,
    conditions: conditions.map((c) => ({
      metric: c.metric,
      maxRatio: c.maxRatio ?? null,
      maxIncrease: c.maxIncrease ?? null,
      maxDecrease: c.maxDecrease ?? null,
      max: c.max ?? null,
      min: c.min ?? null,
    })),
  };
}

/** Why a step waits for an approver. */
export function gateReason(step: number): string {
  return `step ${step + 1} is a manual gate`;
}

/** Whether the current step is analysed at `at`: never yet in this step, or an interval since the last time. */
export function analysisDue(rollout: Pick<Rollout, 'analysis' | 'lastAnalysisAt'>, at: Date): boolean {
  const interval = rollout.analysis.intervalMinutes * 60_000;
  return !(rollout.lastAnalysisAt && at.getTime() - rollout.lastAnalysisAt.getTime() < interval);
}

/** The event that records an analysis with this outcome. */
export function analysisEventType(outcome: Outcome): RolloutEventType {
  return outcome === 'PASSED'
    ? RolloutEventType.ANALYSIS_PASSED
    : outcome === 'FAILED'
      ? RolloutEventType.ANALYSIS_FAILED
      : RolloutEventType.ANALYSIS_INCONCLUSIVE;
}

/** A verdict as an event's evidence: the window, both sides' figures and every check. */
export function verdictEvidence(verdict: Verdict): Record<string, unknown> {
  return {
    outcome: verdict.outcome,
    window: verdict.window,
    candidate: verdict.candidate,
    stable: verdict.stable,
    checks: verdict.checks,
  };
}

/**
 * A verdict on the current step at `at`: a failure counts, and one over the analysis's limit rolls the
 * rollout back; a pass moves to the next step once the step has lasted its pause; anything else waits.
 */
export function afterVerdict(
  rollout: Pick<Rollout, 'failures' | 'analysis' | 'steps' | 'currentStep' | 'stepStartedAt'>,
  outcome: Outcome,
  at: Date,
): AfterVerdict {
  const failures = outcome === 'FAILED' ? rollout.failures + 1 : rollout.failures;
  if (outcome === 'FAILED' && failures > rollout.analysis.failureLimit)
    return { failures, next: 'ROLL_BACK' };
  const elapsed = at.getTime() - (rollout.stepStartedAt ?? at).getTime();
  if (outcome === 'PASSED' && elapsed >= rollout.steps[rollout.currentStep].pauseMinutes * 60_000)
    return { failures, next: 'NEXT_STEP' };
  return { failures, next: 'WAIT' };
}

/** Where a rollout goes once its current step passed. */
export function phaseAfterStep(rollout: Pick<Rollout, 'strategy' | 'steps' | 'currentStep'>): PhaseAfterStep {
  const step = rollout.currentStep + 1;
  if (step >= rollout.steps.length)
    return rollout.strategy === RolloutStrategy.SHADOW ? { kind: 'AWAIT_PROMOTION' } : { kind: 'PROMOTE' };
  return rollout.steps[step].manualGate ? { kind: 'GATE', step } : { kind: 'STEP', step };
}

/**
 * The step an approval leaves waiting for its own gate: a whole-rollout approval (`approvedStep` null)
 * of a rollout whose first step, not started yet, is a manual gate. Null when the rollout may begin.
 */
export function gateAfterApproval(
  rollout: Pick<Rollout, 'steps' | 'currentStep' | 'stepStartedAt'>,
  approvedStep: number | null,
): number | null {
  return approvedStep === null &&
    rollout.steps[rollout.currentStep]?.manualGate &&
    rollout.stepStartedAt === null
    ? rollout.currentStep
    : null;
}

/** Whether the rollout promotes as soon as it begins: IMMEDIATE, or nothing to step through. */
export function promotesAtOnce(rollout: Pick<Rollout, 'strategy' | 'steps'>): boolean {
  return rollout.strategy === RolloutStrategy.IMMEDIATE || rollout.steps.length === 0;
}

/**
 * The traffic of the current step: a CANARY candidate answers the step's weight of requests; a SHADOW
 * or BLUE_GREEN candidate is mirrored (scores every request, answers none).
 */
export function stepTraffic(rollout: Pick<Rollout, 'strategy' | 'steps' | 'currentStep'> & Versions): {
  traffic: Traffic;
  weight: number;
  mirrored: boolean;
} {
  const step = rollout.steps[rollout.currentStep];
  const mirrored = rollout.strategy !== RolloutStrategy.CANARY;
  const weight = mirrored ? 0 : step.weight;
  return {
    traffic: {
      stableVersionId: rollout.fromVersionId,
      canaryVersionId: mirrored ? null : rollout.toVersionId,
      canaryWeight: weight,
      shadowVersionId: mirrored ? rollout.toVersionId : null,
    },
    weight,
    mirrored,
  };
}

/** All traffic to the candidate. */
export function promotedTraffic(rollout: Versions): Traffic {
  return {
    stableVersionId: rollout.toVersionId,
    canaryVersionId: null,
    canaryWeight: 0,
    shadowVersionId: null,
  };
}

/** All traffic back to the version that was stable when the rollout started. */
export function rolledBackTraffic(rollout: Versions): Traffic {
  return {
    stableVersionId: rollout.fromVersionId,
    canaryVersionId: null,
    canaryWeight: 0,
    shadowVersionId: null,
  };
}
