import {
  canonicalJson,
  preprocessingHash,
  requireAliasName,
  requireMetrics,
  requireNames,
} from './model-input';
import { fieldOf } from '../../../test/support/field-of';

describe('model input', () => {
  it('hashes preprocessing specs independently of key order', () => {
    const a = { scale: { mean: [1, 2], std: [3, 4] }, impute: 'median', clip: null };
    const b = { impute: 'median', clip: null, scale: { std: [3, 4], mean: [1, 2] } };
    expect(canonicalJson(a)).toBe('{"clip":null,"impute":"median","scale":{"mean":[1,2],"std":[3,4]}}');
    expect(preprocessingHash(a)).toBe(preprocessingHash(b));
    expect(preprocessingHash(a)).toMatch(/^[0-9a-f]{64}$/);
    // Array order is meaning, not noise.
    expect(preprocessingHash({ cols: ['a', 'b'] })).not.toBe(preprocessingHash({ cols: ['b', 'a'] }));
  });

  it('rejects non-finite numbers in a spec, naming the path', () => {
    expect(fieldOf(() => preprocessingHash({ scale: { std: [1, Infinity] } }))).toBe(
      'preprocessing.scale.std.1',
    );
  });

  it('accepts finite metrics and names the offending key otherwise', () => {
    expect(requireMetrics('metrics', { auc: 0.91, loss: -1e-3 })).toEqual({ auc: 0.91, loss: -1e-3 });
    expect(requireMetrics('metrics', null)).toEqual({});
    expect(fieldOf(() => requireMetrics('metrics', { auc: 0.9, f1: NaN }))).toBe('metrics.f1');
    expect(fieldOf(() => requireMetrics('metrics', { loss: Infinity }))).toBe('metrics.loss');
    expect(fieldOf(() => requireMetrics('metrics', { loss: 'NaN' }))).toBe('metrics.loss');
    expect(fieldOf(() => requireMetrics('metrics', { loss: null }))).toBe('metrics.loss');
    expect(fieldOf(() => requireMetrics('metrics', [1]))).toBe('metrics');
  });

  it('checks alias names', () => {
    for (const ok of ['champion', 'a', 'shadow_2', 'blue-green', `a${'b'.repeat(62)}`])
      expect(requireAliasName('alias', ok)).toBe(ok);
    for (const bad of ['', 'Champion', '1st', '-x', 'a b', `a${'b'.repeat(63)}`, 'prod!']) {
      expect(fieldOf(() => requireAliasName('alias', bad))).toBe('alias');
    }
  });

  it('trims names and rejects blanks and repeats by index', () => {
    expect(requireNames('labels', [' cat ', 'dog'])).toEqual(['cat', 'dog']);
    expect(requireNames('labels', undefined)).toEqual([]);
    expect(fieldOf(() => requireNames('labels', ['cat', ' ']))).toBe('labels.1');
    expect(fieldOf(() => requireNames('featureNames', ['a', 'b', 'a']))).toBe('featureNames.2');
  });
});
