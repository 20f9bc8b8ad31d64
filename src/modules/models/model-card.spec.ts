import {
  carriedExtra,
  missingModelCardSections,
  missingSections,
  ModelCardMetricSource,
  readModelCard,
  REQUIRED_MODEL_CARD_SECTIONS,
  requireModelCard,
  storedModelCard,
  type ModelCardInputLike,
} from './model-card';
import {
  renderModelCardMarkdown,
  type CardDatasetLink,
  type ModelCardRenderFacts,
} from './model-card-markdown';
import { fieldOf } from '../../../test/support/field-of';

const DV1 = '6f1c1c2e-6f0a-4b43-9c5e-0d1f2a3b4c5d';
const DV2 = '0b7e9a10-1f2e-4d3c-8b4a-5e6f7a8b9c0d';
const SHA = 'ab'.repeat(32);

const FULL: ModelCardInputLike = {
  intendedUse: 'Suggest a queue for each support ticket',
  outOfScopeUses: ['credit decisions', 'HR screening'],
  trainingData: { description: 'Six months of English tickets', datasetVersionIds: [DV1] },
  evaluation: {
    metrics: [
      { name: 'accuracy', value: 0.91, dataset: 'holdout' },
      { name: 'f1', value: 0.88 },
    ],
    slices: [
      { slice: 'channel=email', metric: 'accuracy', value: 0.93, n: 420 },
      { slice: 'channel=chat', metric: 'accuracy', value: 0.87 },
    ],
  },
  ethicalConsiderations: 'No personal data is used as a feature',
  limitations: ['English only', 'Not retrained on new products yet'],
  owners: ['ml-platform@example.com', 'Support analytics'],
};

const facts = (overrides: Partial<ModelCardRenderFacts> = {}): ModelCardRenderFacts => {
  const card = requireModelCard(FULL).card;
  const link: CardDatasetLink = {
    datasetVersionId: DV1,
    datasetId: 'd1',
    name: 'support-tickets',
    version: 3,
    sha256: SHA,
  };
  return {
    modelName: 'router',
    version: 7,
    versionId: 'v7-id',
    registeredAt: new Date('2026-05-01T10:00:00.000Z'),
    artifactSha256: 'cd'.repeat(32),
    runId: 'run-1',
    card,
    datasets: new Map([[DV1, link]]),
    missing: missingSections(card),
    ...overrides,
  };
};

describe('model card', () => {
  it('validates a structured card and stores it in a shape that reads back the same', () => {
    const { card, fillDatasets, fillMetrics, keepExtra } = requireModelCard(FULL);
    expect({ fillDatasets, fillMetrics, keepExtra }).toEqual({
      fillDatasets: false,
      fillMetrics: false,
      keepExtra: true,
    });
    expect(card.evaluation.source).toBe(ModelCardMetricSource.CARD);
    expect(missingSections(card)).toEqual([]);
    const stored = JSON.parse(JSON.stringify(storedModelCard(card))) as Record<string, unknown>;
    expect(readModelCard(stored)).toEqual(card);
    expect(missingModelCardSections(stored)).toEqual([]);
  });

  it('marks omitted lineage for filling, and names what is missing in card order', () => {
    const { card, fillDatasets, fillMetrics } = requireModelCard({ owners: ['a@example.com'] });
    expect({ fillDatasets, fillMetrics }).toEqual({ fillDatasets: true, fillMetrics: true });
    expect(missingSections(card)).toEqual(REQUIRED_MODEL_CARD_SECTIONS.filter((s) => s !== 'owners'));
    // Blank text is no content.
    expect(missingSections(requireModelCard({ ...FULL, intendedUse: '   ' }).card)).toEqual(['intendedUse']);
    expect(missingSections(requireModelCard({ ...FULL, evaluation: { metrics: [] } }).card)).toEqual([
      'evaluation',
    ]);
    expect(missingModelCardSections(null)).toEqual([...REQUIRED_MODEL_CARD_SECTIONS]);
  });

  it('names the offending field and accepts nothing malformed', () => {
    expect(fieldOf(() => requireModelCard({ owners: ['a@example.com', 'b@@example.com'] }))).toBe(
      'card.owners.1',
    );
    expect(fieldOf(() => requireModelCard({ owners: ['bad@address'] }))).toBe('card.owners.0');
    expect(fieldOf(() => requireModelCard({ owners: ['x', 'x'] }))).toBe('card.owners.1');
    expect(fieldOf(() => requireModelCard({ limitations: ['ok', ' '] }))).toBe('card.limitations.1');
    expect(fieldOf(() => requireModelCard({ trainingData: { datasetVersionIds: ['nope'] } }))).toBe(
      'card.trainingData.datasetVersionIds.0',
    );
    expect(fieldOf(() => requireModelCard({ trainingData: { datasetVersionIds: [DV1, DV2, DV1] } }))).toBe(
      'card.trainingData.datasetVersionIds.2',
    );
    expect(fieldOf(() => requireModelCard({ evaluation: { metrics: [{ name: 'auc', value: NaN }] } }))).toBe(
      'card.evaluation.metrics.0.value',
    );
    expect(
      fieldOf(() =>
        requireModelCard({
          evaluation: {
            metrics: [
              { name: 'auc', value: 1 },
              { name: 'auc', value: 2 },
            ],
          },
        }),
      ),
    ).toBe('card.evaluation.metrics.1.name');
    expect(
      fieldOf(() =>
        requireModelCard({ evaluation: { slices: [{ slice: 'a', metric: 'm', value: 1, n: -1 }] } }),
      ),
    ).toBe('card.evaluation.slices.0.n');
    expect(fieldOf(() => requireModelCard({ extra: { owners: ['x'] } }))).toBe('card.extra.owners');
    expect(fieldOf(() => requireModelCard({ intendedUse: 'x'.repeat(20_001) }))).toBe('card.intendedUse');
  });

  it('reads free-form cards without losing anything, with the completeness they always had', () => {
    // The card of the rollouts suite, registered before cards were structured.
    const legacy = {
      intendedUse: 'Route support tickets to a queue',
      outOfScopeUses: ['credit decisions'],
      trainingData: { dataset: 'support-tickets' },
      evaluation: { accuracy: 0.91 },
      ethicalConsiderations: 'No personal data is used as a feature',
      limitations: 'English tickets only',
      owners: ['ml-platform@example.com'],
    };
    const card = readModelCard(legacy);
    expect(card.limitations).toEqual(['English tickets only']);
    expect(card.evaluation.metrics).toEqual([{ name: 'accuracy', value: 0.91, dataset: null }]);
    expect(card.extra).toEqual({ trainingData: { dataset: 'support-tickets' } });
    expect(missingModelCardSections(legacy)).toEqual([]);

    const partial = readModelCard({ owner: 'ml-team', intendedUse: 'retention offers', labels: ['a'] });
    expect(partial.intendedUse).toBe('retention offers');
    expect(partial.extra).toEqual({ owner: 'ml-team', labels: ['a'] });
    expect(missingSections(partial)).toEqual(REQUIRED_MODEL_CARD_SECTIONS.filter((s) => s !== 'intendedUse'));
    // An empty free-form section is as missing as it always was.
    expect(missingModelCardSections({ ...legacy, trainingData: {} })).toEqual(['trainingData']);
    // Free-form content under a section's name does not outlive a structured card that replaces it.
    expect(carriedExtra(card)).toBeNull();
    expect(carriedExtra(partial)).toEqual({ owner: 'ml-team', labels: ['a'] });
  });

  it('renders every section, metric tables and lineage, the same way every time', () => {
    const markdown = renderModelCardMarkdown(facts());
    expect(renderModelCardMarkdown(facts())).toBe(markdown);
    expect(markdown).toBe(
      [
        '# Model card: router v7',
        '',
        '- Model version: `v7-id`',
        `- Artifact sha256: \`${'cd'.repeat(32)}\``,
        '- Produced by run: `run-1`',
        '- Generated at: 2026-05-01T10:00:00.000Z (registration of version 7)',
        '- Completeness: complete',
        '',
        '## Intended use',
        '',
        'Suggest a queue for each support ticket',
        '',
        '## Out-of-scope uses',
        '',
        '- credit decisions',
        '- HR screening',
        '',
        '## Training data',
        '',
        'Six months of English tickets',
        '',
        '| Dataset | Version | sha256 |',
        '|---|---|---|',
        `| support-tickets | 3 | \`${SHA}\` |`,
        '',
        '## Evaluation',
        '',
        '| Metric | Value | Dataset |',
        '|---|---|---|',
        '| accuracy | 0.91 | holdout |',
        '| f1 | 0.88 |  |',
        '',
        '### Per-slice metrics',
        '',
        '| Slice | Metric | Value | n |',
        '|---|---|---|---|',
        '| channel=email | accuracy | 0.93 | 420 |',
        '| channel=chat | accuracy | 0.87 |  |',
        '',
        '## Ethical considerations',
        '',
        'No personal data is used as a feature',
        '',
        '## Limitations',
        '',
        '- English only',
        '- Not retrained on new products yet',
        '',
        '## Owners',
        '',
        '- ml-platform@example.com',
        '- Support analytics',
        '',
      ].join('\n'),
    );
  });

  it('renders gaps, unknown links, run-filled metrics and free-form material', () => {
    const card = readModelCard({
      intendedUse: 'x',
      trainingData: { datasetVersionIds: [DV2] },
      evaluation: {
        metrics: [{ name: 'loss | val', value: 0.1 }],
        slices: [],
        source: 'RUN',
        runId: 'run-9',
      },
      extra: { labels: ['a', 'b'], algorithm: 'softmax' },
      limitations: 'line one\nline two',
    });
    const markdown = renderModelCardMarkdown(
      facts({ card, datasets: new Map(), artifactSha256: null, runId: null, missing: missingSections(card) }),
    );
    expect(markdown).toContain(
      '- Completeness: incomplete, missing outOfScopeUses, ethicalConsiderations, owners',
    );
    expect(markdown).toContain('- Artifact sha256: _none (remote model)_');
    expect(markdown).toContain(`| _unknown dataset version ${DV2}_ |  |  |`);
    expect(markdown).toContain('Latest value of each metric of run `run-9`.');
    expect(markdown).toContain('| loss \\| val | 0.1 |  |');
    expect(markdown).toContain('## Out-of-scope uses\n\n_Not stated._');
    expect(markdown).toContain('- line one line two');
    expect(markdown).toContain(
      '## Additional information\n\n```json\n{\n  "algorithm": "softmax",\n  "labels": [\n    "a",\n    "b"\n  ]\n}\n```',
    );
  });
});
