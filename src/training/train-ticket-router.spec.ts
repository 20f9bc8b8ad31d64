import { compilePreprocessing } from '../modules/inference/preprocessing';
import { BASELINE_TICKET_ROUTER, trainTicketRouter } from './train-ticket-router';
import { QUEUES } from './ticket-dataset';

describe('trainTicketRouter', () => {
  const small = { rows: 1500, epochs: 6, textBuckets: 512, seed: 3 };
  const trained = trainTicketRouter(small);

  it('reaches a sane held-out accuracy on a small configuration, short of perfect', () => {
    expect(trained.metrics.accuracy).toBeGreaterThan(0.8);
    expect(trained.metrics.accuracy).toBeLessThan(0.97);
    expect(trained.metrics.macro_f1).toBeGreaterThan(0.75);
    expect(trained.metrics.train_accuracy).toBeGreaterThan(0.8);
    for (const q of QUEUES) expect(trained.metrics[`f1_${q}`]).toBeGreaterThan(0.5);
    expect(Object.values(trained.metrics).every(Number.isFinite)).toBe(true);
  });

  it('holds out a fifth of each queue and exports the whole dataset as CSV', () => {
    expect(trained.dataset).toMatchObject({
      rows: 1500,
      trainRows: expect.any(Number),
      testRows: expect.any(Number),
    });
    expect(trained.dataset.trainRows + trained.dataset.testRows).toBe(1500);
    expect(trained.dataset.testRows).toBeGreaterThan(280);
    expect(trained.dataset.testRows).toBeLessThan(320);
    const lines = trained.dataset.csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'subject,body,channel,customer_tier,account_age_days,prior_tickets,attachments,queue',
    );
    expect(trained.report.confusion.flat().reduce((a, b) => a + b, 0)).toBe(trained.dataset.testRows);
  });

  it('describes its features with a spec the hub accepts, as wide as the model', () => {
    const preprocessor = compilePreprocessing(trained.preprocessing);
    expect(preprocessor.width).toBe(trained.model.width);
    expect(preprocessor.width).toBe(128 + 512 + 4 + 3 + 3);
    expect(trained.featureNames).toEqual([
      'subject',
      'body',
      'channel',
      'customer_tier',
      'account_age_days',
      'prior_tickets',
      'attachments',
    ]);
    expect(trained.preprocessing).toMatchObject({ version: 1, input: 'features', output: 'probabilities' });
    const age = trained.preprocessing.features.find((f) => f.name === 'account_age_days');
    expect(age).toMatchObject({ kind: 'numeric', scale: { type: 'standard', mean: expect.any(Number) } });
    expect(trained.labels).toEqual([...QUEUES]);
  });

  it('reports one history entry per epoch and eight golden samples across the queues', () => {
    expect(trained.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trained.history.every((h) => h.valAccuracy !== undefined && h.valLoss !== undefined)).toBe(true);
    expect(trained.goldenSamples).toHaveLength(8);
    expect(new Set(trained.goldenSamples.map((s) => s.expectedLabel)).size).toBe(QUEUES.length);
    const preprocessor = compilePreprocessing(trained.preprocessing);
    const x = preprocessor.encode(
      trained.goldenSamples.map((s) => s.input),
      (i) => `golden.${i}`,
    );
    expect(Array.from(trained.model.predict(x), (c) => trained.labels[c])).toEqual(
      trained.goldenSamples.map((s) => s.expectedLabel),
    );
    expect(Object.keys(trained.goldenSamples[0].input)).not.toContain('queue');
  });

  it('is deterministic for the same options', () => {
    const again = trainTicketRouter(small);
    expect(again.onnx.equals(trained.onnx)).toBe(true);
    expect(again.metrics).toEqual(trained.metrics);
    expect(again.dataset.csv).toBe(trained.dataset.csv);
  });

  it('does visibly worse with the baseline setup than with the full one', () => {
    const baseline = trainTicketRouter({ ...BASELINE_TICKET_ROUTER, rows: 1500, seed: 3 });
    expect(baseline.options).toMatchObject({ textBuckets: 64, ngrams: [1, 1], epochs: 2 });
    expect(baseline.metrics.accuracy).toBeLessThan(trained.metrics.accuracy - 0.03);
  });

  it('rejects options it cannot train with', () => {
    expect(() => trainTicketRouter({ rows: 10 })).toThrow('rows');
    expect(() => trainTicketRouter({ textBuckets: 4 })).toThrow('textBuckets');
    expect(() => trainTicketRouter({ ngrams: [2, 1] })).toThrow('ngrams');
    expect(() => trainTicketRouter({ testFraction: 1 })).toThrow('testFraction');
  });
});
