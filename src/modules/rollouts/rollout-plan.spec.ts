import type { Outcome } from './rollout-analysis';
import {
  afterVerdict,
  analysisDue,
  analysisEventType,
  checkAnalysis,
  checkSteps,
  gateAfterApproval,
  gateReason,
  phaseAfterStep,
  promotedTraffic,
  promotesAtOnce,
  rolledBackTraffic,
  stepTraffic,
} from './rollout-plan';
import { AnalysisMetric, RolloutEventType, RolloutStrategy, type RolloutStep } from './rollout.entity';
import type { RolloutStepInput } from './rollout.types';
import { fieldOf } from '../../../test/support/field-of';

const FROM = 'v-stable';
const TO = 'v-candidate';
const T0 = new Date('2026-01-01T00:00:00Z');
const minutes = (n: number): Date => new Date(T0.getTime() + n * 60_000);

const step = (weight: number, pauseMinutes = 5, manualGate = false): RolloutStep => ({
  weight,
  pauseMinutes,
  manualGate,
});

/** Step inputs as GraphQL hands them over when a client leaves fields out. */
const given = (...inputs: Array<Partial<RolloutStepInput>>): RolloutStepInput[] =>
  inputs as RolloutStepInput[];

describe('checkSteps', () => {
  it('gives a CANARY the default 5, 25, 50, 100 schedule', () => {
    expect(checkSteps(RolloutStrategy.CANARY, null)).toEqual([step(5), step(25), step(50), step(100)]);
  });

  it('gives SHADOW and BLUE_GREEN one mirrored phase of 30 minutes, IMMEDIATE none', () => {
    expect(checkSteps(RolloutStrategy.SHADOW, [])).toEqual([step(0, 30)]);
    expect(checkSteps(RolloutStrategy.BLUE_GREEN, undefined)).toEqual([step(0, 30)]);
    expect(checkSteps(RolloutStrategy.IMMEDIATE, null)).toEqual([]);
  });

  it('fills pause and gate, and keeps rising weights', () => {
    expect(
      checkSteps(
        RolloutStrategy.CANARY,
        given({ weight: 10 }, { weight: 100, pauseMinutes: 0, manualGate: true }),
      ),
    ).toEqual([step(10), step(100, 0, true)]);
  });

  it('names the offending field', () => {
    expect(fieldOf(() => checkSteps(RolloutStrategy.IMMEDIATE, given({ weight: 1 })))).toBe('steps');
    expect(fieldOf(() => checkSteps(RolloutStrategy.CANARY, given({ weight: 50 }, { weight: 50 })))).toBe(
      'steps.1.weight',
    );
    expect(fieldOf(() => checkSteps(RolloutStrategy.CANARY, given({ weight: 101 })))).toBe('steps.0.weight');
    expect(fieldOf(() => checkSteps(RolloutStrategy.CANARY, given({ pauseMinutes: 5 })))).toBe(
      'steps.0.weight',
    );
    expect(fieldOf(() => checkSteps(RolloutStrategy.CANARY, given({ weight: 5, pauseMinutes: -1 })))).toBe(
      'steps.0.pauseMinutes',
    );
    expect(fieldOf(() => checkSteps(RolloutStrategy.SHADOW, given({}, {})))).toBe('steps');
    expect(fieldOf(() => checkSteps(RolloutStrategy.BLUE_GREEN, given({ weight: 20 })))).toBe(
      'steps.0.weight',
    );
    const many = Array.from({ length: 21 }, (_, i) => ({ weight: i + 1 }));
    expect(fieldOf(() => checkSteps(RolloutStrategy.CANARY, given(...many)))).toBe('steps');
  });
});

describe('checkAnalysis', () => {
  it('defaults to latency, error rate and drift every minute on 50 samples, no failure tolerated', () => {
    const analysis = checkAnalysis(RolloutStrategy.CANARY, null);
    expect(analysis).toMatchObject({ intervalMinutes: 1, minSamples: 50, failureLimit: 0 });
    expect(analysis.conditions.map((c) => c.metric)).toEqual([
      AnalysisMetric.P95_LATENCY,
      AnalysisMetric.ERROR_RATE,
      AnalysisMetric.DRIFT,
    ]);
    expect(analysis.conditions[0]).toEqual({
      metric: AnalysisMetric.P95_LATENCY,
      maxRatio: 1.5,
      maxIncrease: null,
      maxDecrease: null,
      max: null,
      min: null,
    });
  });

  it('refuses out-of-range settings and unbounded conditions', () => {
    expect(fieldOf(() => checkAnalysis(RolloutStrategy.CANARY, { intervalMinutes: 0 }))).toBe(
      'analysis.intervalMinutes',
    );
    expect(fieldOf(() => checkAnalysis(RolloutStrategy.CANARY, { minSamples: 1.5 }))).toBe(
      'analysis.minSamples',
    );
    expect(fieldOf(() => checkAnalysis(RolloutStrategy.CANARY, { failureLimit: 101 }))).toBe(
      'analysis.failureLimit',
    );
    expect(
      fieldOf(() =>
        checkAnalysis(RolloutStrategy.CANARY, { conditions: [{ metric: AnalysisMetric.ERROR_RATE }] }),
      ),
    ).toBe('analysis.conditions.0');
    expect(
      fieldOf(() =>
        checkAnalysis(RolloutStrategy.CANARY, {
          conditions: [{ metric: AnalysisMetric.ERROR_RATE, max: -1 }],
        }),
      ),
    ).toBe('analysis.conditions.0');
  });

  it('keeps AGREEMENT to mirrored strategies', () => {
    const conditions = [{ metric: AnalysisMetric.AGREEMENT, min: 0.9 }];
    expect(fieldOf(() => checkAnalysis(RolloutStrategy.CANARY, { conditions }))).toBe(
      'analysis.conditions.0',
    );
    expect(checkAnalysis(RolloutStrategy.SHADOW, { conditions }).conditions[0].min).toBe(0.9);
  });
});

describe('the driver decisions', () => {
  const analysis = checkAnalysis(RolloutStrategy.CANARY, { intervalMinutes: 2, failureLimit: 1 });
  const progressing = {
    analysis,
    steps: [step(10, 5), step(50, 5), step(100, 5)],
    currentStep: 0,
    stepStartedAt: T0,
    failures: 0,
  };

  it('analyses a step first at once, then every interval', () => {
    expect(analysisDue({ analysis, lastAnalysisAt: null }, T0)).toBe(true);
    expect(analysisDue({ analysis, lastAnalysisAt: T0 }, minutes(1))).toBe(false);
    expect(analysisDue({ analysis, lastAnalysisAt: T0 }, minutes(2))).toBe(true);
  });

  it('records each outcome as its own event', () => {
    const types = (['PASSED', 'FAILED', 'INCONCLUSIVE'] as Outcome[]).map(analysisEventType);
    expect(types).toEqual([
      RolloutEventType.ANALYSIS_PASSED,
      RolloutEventType.ANALYSIS_FAILED,
      RolloutEventType.ANALYSIS_INCONCLUSIVE,
    ]);
  });

  it('moves on after a pass once the step lasted its pause, and waits before', () => {
    expect(afterVerdict(progressing, 'PASSED', minutes(4))).toEqual({ failures: 0, next: 'WAIT' });
    expect(afterVerdict(progressing, 'PASSED', minutes(5))).toEqual({ failures: 0, next: 'NEXT_STEP' });
    // A step not started yet has lasted nothing: only a step without a pause moves on.
    const unstarted = { ...progressing, stepStartedAt: null };
    expect(afterVerdict(unstarted, 'PASSED', minutes(5)).next).toBe('WAIT');
    expect(afterVerdict({ ...unstarted, steps: [step(10, 0)] }, 'PASSED', minutes(5)).next).toBe('NEXT_STEP');
  });

  it('waits on an inconclusive verdict however long the step ran', () => {
    expect(afterVerdict(progressing, 'INCONCLUSIVE', minutes(60))).toEqual({ failures: 0, next: 'WAIT' });
  });

  it('counts failures and rolls back on the one over the limit', () => {
    expect(afterVerdict(progressing, 'FAILED', minutes(60))).toEqual({ failures: 1, next: 'WAIT' });
    expect(afterVerdict({ ...progressing, failures: 1 }, 'FAILED', minutes(1))).toEqual({
      failures: 2,
      next: 'ROLL_BACK',
    });
  });

  it('after a passed step: the next step, its gate, or the end', () => {
    const canary = { strategy: RolloutStrategy.CANARY, steps: [step(10), step(50, 5, true), step(100)] };
    expect(phaseAfterStep({ ...canary, currentStep: 0 })).toEqual({ kind: 'GATE', step: 1 });
    expect(phaseAfterStep({ ...canary, currentStep: 1 })).toEqual({ kind: 'STEP', step: 2 });
    expect(phaseAfterStep({ ...canary, currentStep: 2 })).toEqual({ kind: 'PROMOTE' });
    const mirrored = { steps: [step(0, 30)], currentStep: 0 };
    expect(phaseAfterStep({ ...mirrored, strategy: RolloutStrategy.SHADOW })).toEqual({
      kind: 'AWAIT_PROMOTION',
    });
    expect(phaseAfterStep({ ...mirrored, strategy: RolloutStrategy.BLUE_GREEN })).toEqual({
      kind: 'PROMOTE',
    });
  });
});

describe('approvals and traffic', () => {
  it('follows a whole-rollout approval with the first step gate, if that step has not started', () => {
    const gated = { steps: [step(10, 5, true)], currentStep: 0, stepStartedAt: null };
    expect(gateAfterApproval(gated, null)).toBe(0);
    expect(gateAfterApproval(gated, 0)).toBeNull();
    expect(gateAfterApproval({ ...gated, stepStartedAt: T0 }, null)).toBeNull();
    expect(gateAfterApproval({ ...gated, steps: [step(10)] }, null)).toBeNull();
    expect(gateAfterApproval({ ...gated, steps: [] }, null)).toBeNull();
    expect(gateReason(0)).toBe('step 1 is a manual gate');
  });

  it('promotes IMMEDIATE (or stepless) rollouts at once', () => {
    expect(promotesAtOnce({ strategy: RolloutStrategy.IMMEDIATE, steps: [] })).toBe(true);
    expect(promotesAtOnce({ strategy: RolloutStrategy.CANARY, steps: [] })).toBe(true);
    expect(promotesAtOnce({ strategy: RolloutStrategy.CANARY, steps: [step(5)] })).toBe(false);
  });

  it('weights a canary step and mirrors a shadow one', () => {
    const versions = { fromVersionId: FROM, toVersionId: TO };
    expect(
      stepTraffic({
        ...versions,
        strategy: RolloutStrategy.CANARY,
        steps: [step(5), step(25)],
        currentStep: 1,
      }),
    ).toEqual({
      traffic: { stableVersionId: FROM, canaryVersionId: TO, canaryWeight: 25, shadowVersionId: null },
      weight: 25,
      mirrored: false,
    });
    expect(
      stepTraffic({
        ...versions,
        strategy: RolloutStrategy.BLUE_GREEN,
        steps: [step(0, 30)],
        currentStep: 0,
      }),
    ).toEqual({
      traffic: { stableVersionId: FROM, canaryVersionId: null, canaryWeight: 0, shadowVersionId: TO },
      weight: 0,
      mirrored: true,
    });
    expect(promotedTraffic(versions)).toEqual({
      stableVersionId: TO,
      canaryVersionId: null,
      canaryWeight: 0,
      shadowVersionId: null,
    });
    expect(rolledBackTraffic(versions)).toEqual({
      stableVersionId: FROM,
      canaryVersionId: null,
      canaryWeight: 0,
      shadowVersionId: null,
    });
  });
});
