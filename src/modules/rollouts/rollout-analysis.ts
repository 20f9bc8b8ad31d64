import { AnalysisMetric, type AnalysisCondition, type Rollout } from './rollout.entity';
import type { Figures, Signals } from './rollout-signals';

export type Outcome = 'PASSED' | 'FAILED' | 'INCONCLUSIVE';

export interface Check {
  metric: AnalysisMetric;
  candidate: number | null;
  stable: number | null;
  limit: string;
  outcome: Outcome;
}

export interface Verdict {
  outcome: Outcome;
  summary: string;
  window: Signals['window'];
  candidate: Figures;
  stable: Figures;
  checks: Check[];
}

/** Latency differences below this are noise (scheduling on a busy host), whatever the ratio. */
const LATENCY_SLACK_MS = 5;

/**
 * Judges a step's signals against the rollout's conditions, as Argo Rollouts and Flagger do but on
 * model signals: any failed check fails the analysis; otherwise any check without enough data (fewer
 * candidate requests or outcomes than `minSamples`) makes it inconclusive — an empty window is never
 * a pass.
 */
export function analyze(rollout: Rollout, signals: Signals): Verdict {
  const { minSamples } = rollout.analysis;
  const { candidate: c, stable: s } = signals;
  const enough = c.requests >= minSamples;
  const checks = rollout.analysis.conditions.map((condition) =>
    check(condition, signals, enough, minSamples),
  );
  const outcome: Outcome = checks.some((k) => k.outcome === 'FAILED')
    ? 'FAILED'
    : checks.some((k) => k.outcome === 'INCONCLUSIVE')
      ? 'INCONCLUSIVE'
      : 'PASSED';
  const failed = checks.filter((k) => k.outcome === 'FAILED');
  const summary =
    outcome === 'FAILED'
      ? failed.map((k) => `${k.metric} ${fmt(k.candidate)} (stable ${fmt(k.stable)}; ${k.limit})`).join('; ')
      : outcome === 'INCONCLUSIVE'
        ? `not enough data: ${c.requests} candidate requests, ${c.outcomes} outcomes (need ${minSamples})`
        : `all ${checks.length} checks passed on ${c.requests} candidate requests`;
  return { outcome, summary, window: signals.window, candidate: c, stable: s, checks };
}

function check(condition: AnalysisCondition, signals: Signals, enough: boolean, minSamples: number): Check {
  const { candidate: c, stable: s } = signals;
  const result = (
    candidate: number | null,
    stable: number | null,
    limit: string,
    failed: boolean,
    known: boolean,
  ): Check => ({
    metric: condition.metric,
    candidate,
    stable,
    limit,
    outcome: !known ? 'INCONCLUSIVE' : failed ? 'FAILED' : 'PASSED',
  });
  switch (condition.metric) {
    case AnalysisMetric.DRIFT:
      return result(
        signals.driftAlertOpen ? 1 : 0,
        null,
        'no open drift alert',
        signals.driftAlertOpen,
        true,
      );
    case AnalysisMetric.P95_LATENCY: {
      const known = enough && c.p95Ms !== null;
      const ratioFails =
        condition.maxRatio != null &&
        s.p95Ms !== null &&
        c.p95Ms !== null &&
        c.p95Ms > s.p95Ms * condition.maxRatio + LATENCY_SLACK_MS;
      const maxFails = condition.max != null && c.p95Ms !== null && c.p95Ms > condition.max;
      return result(c.p95Ms, s.p95Ms, limits(condition, 'x stable', 'ms'), ratioFails || maxFails, known);
    }
    case AnalysisMetric.ERROR_RATE: {
      const increaseFails =
        condition.maxIncrease != null && c.errorRate - s.errorRate > condition.maxIncrease;
      const maxFails = condition.max != null && c.errorRate > condition.max;
      return result(c.errorRate, s.errorRate, limits(condition, '', ''), increaseFails || maxFails, enough);
    }
    case AnalysisMetric.LIVE_ACCURACY: {
      const known = c.outcomes >= minSamples && c.accuracy !== null;
      const dropFails =
        condition.maxDecrease != null &&
        s.accuracy !== null &&
        c.accuracy !== null &&
        s.accuracy - c.accuracy > condition.maxDecrease;
      const minFails = condition.min != null && c.accuracy !== null && c.accuracy < condition.min;
      return result(c.accuracy, s.accuracy, limits(condition, '', ''), dropFails || minFails, known);
    }
    case AnalysisMetric.AGREEMENT: {
      const a = signals.agreement;
      const share = a && a.compared ? a.agreeing / a.compared : null;
      const known = a !== null && a.compared >= minSamples;
      return result(
        share,
        null,
        limits(condition, '', ''),
        condition.min != null && share !== null && share < condition.min,
        known,
      );
    }
  }
}

function limits(c: AnalysisCondition, ratioUnit: string, unit: string): string {
  const parts: string[] = [];
  if (c.maxRatio != null) parts.push(`at most ${c.maxRatio}${ratioUnit}`);
  if (c.maxIncrease != null) parts.push(`at most +${c.maxIncrease} over stable`);
  if (c.maxDecrease != null) parts.push(`at most -${c.maxDecrease} under stable`);
  if (c.max != null) parts.push(`at most ${c.max}${unit}`);
  if (c.min != null) parts.push(`at least ${c.min}`);
  return parts.join(', ');
}

const fmt = (x: number | null): string => (x === null ? 'n/a' : String(Math.round(x * 1000) / 1000));
