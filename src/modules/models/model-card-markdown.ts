import { canonicalJson } from './model-input';
import {
  ModelCardMetricSource,
  REQUIRED_MODEL_CARD_SECTIONS,
  type ModelCardData,
  type ModelCardSection,
} from './model-card';

const SECTIONS = new Set<string>(REQUIRED_MODEL_CARD_SECTIONS);

/** A dataset version a card links to, as the Markdown shows it. */
export interface CardDatasetLink {
  datasetVersionId: string;
  datasetId: string;
  name: string;
  version: number;
  sha256: string;
}

/** What the Markdown export is rendered from; nothing in it depends on the clock. */
export interface ModelCardRenderFacts {
  modelName: string;
  version: number;
  versionId: string;
  /** The version's registration time: the card's generated-at line, so the export is stable. */
  registeredAt: Date;
  artifactSha256: string | null;
  runId: string | null;
  card: ModelCardData;
  /** The linked dataset versions that exist, by id. */
  datasets: ReadonlyMap<string, CardDatasetLink>;
  missing: readonly string[];
}

const TITLES: Record<ModelCardSection, string> = {
  intendedUse: 'Intended use',
  outOfScopeUses: 'Out-of-scope uses',
  trainingData: 'Training data',
  evaluation: 'Evaluation',
  ethicalConsiderations: 'Ethical considerations',
  limitations: 'Limitations',
  owners: 'Owners',
};

const NOT_STATED = '_Not stated._';

/** One line, safe inside a table cell. */
const cell = (value: string): string => value.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\|/g, '\\|');
/** One line, safe as a list item or heading. */
const line = (value: string): string => value.replace(/\s*[\r\n]+\s*/g, ' ');

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
}

function bullets(items: readonly string[]): string[] {
  return items.length ? items.map((item) => `- ${line(item)}`) : [NOT_STATED];
}

/** JSON with sorted keys, indented: free-form content rendered as-is, the same text every time. */
const prettyJson = (value: unknown): string => JSON.stringify(JSON.parse(canonicalJson(value)), null, 2);

/** Free-form content a registered card holds under a section's name, shown under that section. */
function legacyNote(card: ModelCardData, section: ModelCardSection): string[] {
  const legacy = card.extra?.[section];
  if (legacy === undefined) return [];
  return ['', 'As registered (free-form):', '', '```json', prettyJson(legacy), '```'];
}

/**
 * The card as Markdown: a title with the model's name and version, every section under its heading,
 * metric tables, lineage links as dataset name, version and sha256. Deterministic: the same card and
 * facts give the same text, byte for byte.
 */
export function renderModelCardMarkdown(facts: ModelCardRenderFacts): string {
  const { card } = facts;
  const out: string[] = [
    `# Model card: ${line(facts.modelName)} v${facts.version}`,
    '',
    `- Model version: \`${facts.versionId}\``,
    `- Artifact sha256: ${facts.artifactSha256 ? `\`${facts.artifactSha256}\`` : '_none (remote model)_'}`,
    `- Produced by run: ${facts.runId ? `\`${facts.runId}\`` : '_not recorded_'}`,
    `- Generated at: ${facts.registeredAt.toISOString()} (registration of version ${facts.version})`,
    `- Completeness: ${facts.missing.length ? `incomplete, missing ${facts.missing.join(', ')}` : 'complete'}`,
  ];
  const section = (key: ModelCardSection, body: string[]): void => {
    out.push('', `## ${TITLES[key]}`, '', ...body, ...legacyNote(card, key));
  };

  section('intendedUse', [card.intendedUse ?? NOT_STATED]);
  section('outOfScopeUses', bullets(card.outOfScopeUses));

  const training: string[] = [];
  if (card.trainingData.description) training.push(card.trainingData.description);
  if (card.trainingData.datasetVersionIds.length) {
    if (training.length) training.push('');
    training.push(
      ...table(
        ['Dataset', 'Version', 'sha256'],
        card.trainingData.datasetVersionIds.map((id) => {
          const link = facts.datasets.get(id);
          return link
            ? [link.name, String(link.version), `\`${link.sha256}\``]
            : [`_unknown dataset version ${id}_`, '', ''];
        }),
      ),
    );
  }
  section('trainingData', training.length ? training : [NOT_STATED]);

  const evaluation: string[] = [];
  const { metrics, slices, source, runId } = card.evaluation;
  if (metrics.length) {
    if (source === ModelCardMetricSource.RUN && runId)
      evaluation.push(`Latest value of each metric of run \`${runId}\`.`, '');
    else if (source === ModelCardMetricSource.VERSION)
      evaluation.push('Evaluation metrics the version was registered with.', '');
    evaluation.push(
      ...table(
        ['Metric', 'Value', 'Dataset'],
        metrics.map((m) => [m.name, String(m.value), m.dataset ?? '']),
      ),
    );
  }
  if (slices.length) {
    if (evaluation.length) evaluation.push('');
    evaluation.push(
      '### Per-slice metrics',
      '',
      ...table(
        ['Slice', 'Metric', 'Value', 'n'],
        slices.map((s) => [s.slice, s.metric, String(s.value), s.n === null ? '' : String(s.n)]),
      ),
    );
  }
  section('evaluation', evaluation.length ? evaluation : [NOT_STATED]);

  section('ethicalConsiderations', [card.ethicalConsiderations ?? NOT_STATED]);
  section('limitations', bullets(card.limitations));
  section('owners', bullets(card.owners));

  const other = Object.entries(card.extra ?? {}).filter(([key]) => !SECTIONS.has(key));
  if (other.length) {
    out.push('', '## Additional information', '', '```json', prettyJson(Object.fromEntries(other)), '```');
  }
  return `${out.join('\n')}\n`;
}
