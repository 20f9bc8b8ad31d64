import { ReplayTally } from './replay.service';

const none = { label: null, value: null };
const label = (l: string) => ({ label: l, value: null });
const value = (v: number) => ({ label: null, value: v });

describe('ReplayTally', () => {
  it('reports nothing but zeros and nulls for an empty window', () => {
    for (const classifier of [true, false]) {
      expect(new ReplayTally(classifier).summary()).toEqual({
        rows: 0,
        skipped: 0,
        firstSkipReason: null,
        agreement: null,
        meanAbsoluteDifference: null,
        outcomes: 0,
        originalAccuracy: null,
        replayAccuracy: null,
        accuracyDelta: null,
        originalMeanAbsoluteError: null,
        replayMeanAbsoluteError: null,
        byOriginalVersion: [],
      });
    }
  });

  it('counts label agreement overall and per original version, and accuracy on rows with outcomes', () => {
    const tally = new ReplayTally(true);
    tally.add('v1', { label: 'a' }, { label: 'a' }, label('a')); // both right
    tally.add('v1', { label: 'a' }, { label: 'b' }, label('b')); // replay right
    tally.add('v1', { label: 'b' }, { label: 'b' }, none);
    tally.add('v2', { label: 'a' }, { label: 'b' }, label('a')); // original right
    tally.add('v2', { label: 'c' }, { label: 'b' }, label('b')); // replay right
    tally.add('v2', null, { label: 'b' }, none); // a logged answer without label never agrees
    tally.skip('request k-1: input.vip: must be true or false');
    tally.skip('request k-2: input.vip: must be true or false');
    const s = tally.summary();
    expect(s).toMatchObject({
      rows: 6,
      skipped: 2,
      firstSkipReason: 'request k-1: input.vip: must be true or false',
      agreement: 2 / 6,
      meanAbsoluteDifference: null,
      outcomes: 4,
      originalAccuracy: 2 / 4,
      replayAccuracy: 3 / 4,
      originalMeanAbsoluteError: null,
      replayMeanAbsoluteError: null,
    });
    expect(s.accuracyDelta).toBeCloseTo(0.25, 12);
    expect(s.byOriginalVersion).toEqual([
      { modelVersionId: 'v1', rows: 3, agreement: 2 / 3 },
      { modelVersionId: 'v2', rows: 3, agreement: 0 },
    ]);
  });

  it('leaves accuracy null for a classifier without outcomes', () => {
    const tally = new ReplayTally(true);
    tally.add('v1', { label: 'a' }, { label: 'a' }, none);
    expect(tally.summary()).toMatchObject({
      agreement: 1,
      outcomes: 0,
      originalAccuracy: null,
      replayAccuracy: null,
      accuracyDelta: null,
    });
  });

  it('compares the first value for regressors, and its absolute error against outcomes', () => {
    const tally = new ReplayTally(false);
    tally.add('v1', { values: [1, 9] }, { values: [1.5, 0] }, value(2));
    tally.add('v1', { values: [4] }, { values: [3] }, value(3));
    tally.add('v1', { values: [0] }, { values: [-1] }, none);
    const s = tally.summary();
    expect(s).toMatchObject({
      rows: 3,
      agreement: null,
      meanAbsoluteDifference: (0.5 + 1 + 1) / 3,
      outcomes: 2,
      originalAccuracy: null,
      replayAccuracy: null,
      accuracyDelta: null,
      originalMeanAbsoluteError: (1 + 1) / 2,
      replayMeanAbsoluteError: (0.5 + 0) / 2,
      byOriginalVersion: [{ modelVersionId: 'v1', rows: 3, agreement: null }],
    });
  });
});
