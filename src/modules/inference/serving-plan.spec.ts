import type { ModelSignature } from './onnx-signature';
import { ServingPlan, type ServableVersion } from './serving-plan';
import { fieldOf } from '../../../test/support/field-of';

const signature = (
  width: number | null,
  classes: number | null,
  batch: number | null = null,
): ModelSignature => ({
  inputs: [{ name: 'features', type: 'float32', shape: [batch, width] }],
  outputs: [{ name: 'probabilities', type: 'float32', shape: [batch, classes] }],
});

const version = (overrides: Partial<ServableVersion>): ServableVersion => ({
  task: 'CLASSIFICATION',
  signature: signature(2, 3),
  featureNames: [],
  labels: ['a', 'b', 'c'],
  preprocessing: null,
  ...overrides,
});

describe('ServingPlan', () => {
  it('reads feature names as raw numbers when there is no spec', () => {
    const plan = ServingPlan.build(version({ featureNames: ['x', 'y'] }));
    expect(plan).toMatchObject({
      inputs: [{ name: 'features', offset: 0, width: 2 }],
      outputName: 'probabilities',
      width: 2,
      batchLimit: Infinity,
    });
    expect(Array.from(plan.preprocessor.encode([{ x: 1, y: 2 }], () => 'input'))).toEqual([1, 2]);
  });

  it('names the field at fault when the version cannot be served', () => {
    expect(fieldOf(() => ServingPlan.build(version({})))).toBe('preprocessing');
    expect(fieldOf(() => ServingPlan.build(version({ featureNames: ['x'] })))).toBe('featureNames');
    expect(fieldOf(() => ServingPlan.build(version({ featureNames: ['x', 'y'], labels: ['a'] })))).toBe(
      'labels',
    );
    const spec = { version: 1, features: [{ name: 'x', kind: 'vector', length: 2 }] };
    expect(fieldOf(() => ServingPlan.build(version({ preprocessing: spec, featureNames: ['y'] })))).toBe(
      'featureNames',
    );
    expect(fieldOf(() => ServingPlan.build(version({ preprocessing: { ...spec, output: 'nope' } })))).toBe(
      'preprocessing.output',
    );
    const twoInputs: ModelSignature = {
      inputs: [
        { name: 'a', type: 'float32', shape: [null, 2] },
        { name: 'b', type: 'float32', shape: [null, 2] },
      ],
      outputs: signature(2, 3).outputs,
    };
    expect(fieldOf(() => ServingPlan.build(version({ preprocessing: spec, signature: twoInputs })))).toBe(
      'preprocessing.input',
    );
    const ints: ModelSignature = {
      ...signature(2, 3),
      inputs: [{ name: 'features', type: 'int64', shape: [null, 2] }],
    };
    expect(fieldOf(() => ServingPlan.build(version({ preprocessing: spec, signature: ints })))).toBe(
      'preprocessing.input',
    );
    // No fixed class count and no labels: nothing to name the scores with.
    expect(
      fieldOf(() =>
        ServingPlan.build(version({ preprocessing: spec, signature: signature(2, null), labels: [] })),
      ),
    ).toBe('labels');
  });

  it('takes a fixed batch dimension as the largest batch, and numbers unlabeled classes', () => {
    const plan = ServingPlan.build(
      version({ featureNames: ['x', 'y'], signature: signature(null, 2, 1), labels: [] }),
    );
    expect(plan.batchLimit).toBe(1);
    expect(plan.labels).toEqual(['0', '1']);
  });

  it('decodes classifier scores best first, and regressor values', () => {
    const plan = ServingPlan.build(version({ featureNames: ['x', 'y'] }));
    const answers = plan.decode(
      { probabilities: { data: Float32Array.from([0.2, 0.7, 0.1, 0.5, 0.25, 0.25]), dims: [2, 3] } },
      2,
    );
    expect(answers[0]).toEqual({
      label: 'b',
      score: 0.7,
      scores: [
        { label: 'b', score: 0.7 },
        { label: 'a', score: 0.2 },
        { label: 'c', score: 0.1 },
      ],
    });
    expect(answers[1].label).toBe('a');
    const regressor = ServingPlan.build(
      version({
        task: 'REGRESSION',
        featureNames: ['x', 'y'],
        labels: [],
        signature: {
          ...signature(2, 1),
          outputs: [{ name: 'prediction', type: 'float32', shape: [null, 1] }],
        },
      }),
    );
    expect(regressor.decode({ prediction: { data: Float32Array.from([1.5, -2]), dims: [2, 1] } }, 2)).toEqual(
      [{ values: [1.5] }, { values: [-2] }],
    );
  });
});
