import type { FeatureProfile } from '../datasets/dataset-profile';
import { driftQuery, judge, OUTPUT, planDrift } from './drift';

const profile: FeatureProfile = {
  amount: {
    type: 'NUMERIC',
    count: 1000,
    nullCount: 0,
    min: 0,
    max: 40,
    mean: 20,
    std: 10,
    edges: [0, 10, 20, 30, 40],
    frequencies: [0.25, 0.25, 0.25, 0.25],
  },
  channel: { type: 'CATEGORICAL', count: 1000, nullCount: 0, frequencies: { email: 0.6, chat: 0.4 } },
  queue: { type: 'CATEGORICAL', count: 1000, nullCount: 0, frequencies: { billing: 0.5, technical: 0.5 } },
};
const spec = {
  version: 1 as const,
  features: [
    { name: 'amount', kind: 'numeric' as const },
    { name: 'channel', kind: 'categorical' as const, categories: ['email', 'chat'] },
    { name: 'subject', kind: 'text' as const, buckets: 16 },
  ],
};

describe('drift', () => {
  it('plans numeric, categorical and output comparisons, and says what it skips', () => {
    const { probes, skipped } = planDrift(spec, profile, ['billing', 'technical']);
    expect(probes.map((p) => p.name)).toEqual(['amount', 'channel', OUTPUT]);
    expect(skipped).toEqual(['subject: not a column of the training dataset']);
  });

  it('never compares a feature the project marks personal (the log holds it masked)', () => {
    const { probes, skipped } = planDrift(spec, profile, ['billing', 'technical'], new Set(['channel']));
    expect(probes.map((p) => p.name)).toEqual(['amount', OUTPUT]);
    expect(skipped).toContain('channel: personal data, masked in the prediction log');
  });

  it('reads the window once, through a fenced subquery, with every value as a parameter', () => {
    const { probes } = planDrift(spec, profile, ['billing', 'technical']);
    const { text, params } = driftQuery(probes, { endpointId: 'e', from: new Date(0), to: new Date(1) });
    expect(text.match(/FROM prediction_log/g)).toHaveLength(1);
    // Without the fence PostgreSQL inlines the subquery and re-reads the jsonb per bin: 7x slower.
    expect(text).toMatch(/OFFSET 0\) w$/);
    expect(text).not.toContain('amount');
    expect(params).toEqual(
      expect.arrayContaining(['amount', 'channel', 'label', 10, 20, 30, 'email', 'chat']),
    );
  });

  it('judges a shifted numeric feature drifted, and the same distribution not', () => {
    const { probes } = planDrift(spec, profile, ['billing', 'technical']);
    // Cumulative counts below 10, 20, 30 for amount; per category for channel and the output.
    const same = {
      n: 2000,
      n0: 2000,
      c0_0: 500,
      c0_1: 1000,
      c0_2: 1500,
      n1: 2000,
      c1_0: 1200,
      c1_1: 800,
      n2: 2000,
      c2_0: 1000,
      c2_1: 1000,
    };
    expect(judge(probes, same).some((f) => f.drifted)).toBe(false);
    const shifted = { ...same, c0_0: 100, c0_1: 300, c0_2: 900 };
    const verdicts = judge(probes, shifted);
    expect(verdicts.filter((f) => f.drifted).map((f) => f.feature)).toEqual(['amount']);
    expect(verdicts[0].current).toEqual([0.05, 0.1, 0.3, 0.55]);
  });

  it('does not judge an empty window', () => {
    const { probes } = planDrift(spec, profile, ['billing', 'technical']);
    const empty = {
      n: 0,
      n0: 0,
      c0_0: 0,
      c0_1: 0,
      c0_2: 0,
      n1: 0,
      c1_0: 0,
      c1_1: 0,
      n2: 0,
      c2_0: 0,
      c2_1: 0,
    };
    expect(judge(probes, empty).every((f) => !f.drifted && f.sampleSize === 0 && f.pValue === 1)).toBe(true);
  });
});
