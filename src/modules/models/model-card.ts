import { BadInputError } from '../../common/errors';
import { requireId } from '../../common/validate';
import { canonicalJson } from './model-input';

/**
 * The sections a complete model card holds, in the order they are rendered. A HIGH-risk project
 * deploys no version whose card misses one of them (see `missingModelCardSections`).
 */
export const REQUIRED_MODEL_CARD_SECTIONS = [
  'intendedUse',
  'outOfScopeUses',
  'trainingData',
  'evaluation',
  'ethicalConsiderations',
  'limitations',
  'owners',
] as const;

export type ModelCardSection = (typeof REQUIRED_MODEL_CARD_SECTIONS)[number];

const SECTIONS = new Set<string>(REQUIRED_MODEL_CARD_SECTIONS);

/** Where a card's evaluation metrics came from. */
export enum ModelCardMetricSource {
  /** Given on the card. */
  CARD = 'CARD',
  /** The latest value of each metric of the run that produced the version. */
  RUN = 'RUN',
  /** The evaluation metrics the version was registered with (it has no run, or its run logged none). */
  VERSION = 'VERSION',
}

export interface CardMetric {
  name: string;
  value: number;
  dataset: string | null;
}

export interface CardSliceMetric {
  slice: string;
  metric: string;
  value: number;
  n: number | null;
}

export interface CardTrainingData {
  description: string | null;
  /** Lineage: the dataset versions the model was trained on, in the version's project. */
  datasetVersionIds: string[];
}

export interface CardEvaluation {
  metrics: CardMetric[];
  slices: CardSliceMetric[];
  source: ModelCardMetricSource | null;
  /** The run the metrics were read from, when `source` is RUN. */
  runId: string | null;
}

/** A model card as structured data; what is stored in `model_version.model_card` (see `storedModelCard`). */
export interface ModelCardData {
  intendedUse: string | null;
  outOfScopeUses: string[];
  trainingData: CardTrainingData;
  evaluation: CardEvaluation;
  ethicalConsiderations: string | null;
  limitations: string[];
  owners: string[];
  /**
   * Everything else: keys the structure does not know, and, for cards registered as free-form JSON,
   * the part of a section that does not fit its structured form (kept under the section's name).
   */
  extra: Record<string, unknown> | null;
}

/** What `updateModelCard` takes, as GraphQL hands it over. */
export interface ModelCardInputLike {
  intendedUse?: string | null;
  outOfScopeUses?: readonly string[] | null;
  trainingData?: { description?: string | null; datasetVersionIds?: readonly string[] | null } | null;
  evaluation?: {
    metrics?: ReadonlyArray<{ name: string; value: number; dataset?: string | null }> | null;
    slices?: ReadonlyArray<{ slice: string; metric: string; value: number; n?: number | null }> | null;
  } | null;
  ethicalConsiderations?: string | null;
  limitations?: readonly string[] | null;
  owners?: readonly string[] | null;
  extra?: Record<string, unknown> | null;
}

/** A validated card input, and which parts the hub fills from the version's lineage. */
export interface ValidatedModelCard {
  card: ModelCardData;
  /** `trainingData.datasetVersionIds` was omitted: the version's dataset version is used. */
  fillDatasets: boolean;
  /** `evaluation.metrics` was omitted: the run's (or the version's) metrics are used. */
  fillMetrics: boolean;
  /** `extra` was omitted: the free-form part of the card it replaces is kept. */
  keepExtra: boolean;
}

export const MAX_MODEL_CARD_BYTES = 256 * 1024;
const MAX_TEXT = 20_000;
const MAX_ITEM = 2_000;
const MAX_NAME = 200;
const MAX_ITEMS = 100;
const MAX_METRICS = 1_000;
const MAX_EXTRA_BYTES = 64 * 1024;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const emptyCard = (): ModelCardData => ({
  intendedUse: null,
  outOfScopeUses: [],
  trainingData: { description: null, datasetVersionIds: [] },
  evaluation: { metrics: [], slices: [], source: null, runId: null },
  ethicalConsiderations: null,
  limitations: [],
  owners: [],
  extra: null,
});

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const nonBlank = (value: unknown): string | null =>
  typeof value === 'string' && value.trim() ? value.trim() : null;

/** The rule free-form cards were checked by: present, and not an empty string, list or object. */
function hasContent(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string') return value.trim() !== '';
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * Reads a stored card, structured or free-form (cards registered before the structure, or by
 * `registerModelVersion`, are any JSON object). What fits a section's structured form goes there, a
 * string where a list is expected becomes a one-item list, a name-to-number evaluation object becomes
 * metrics; nothing is dropped: the rest is kept in `extra`.
 */
export function readModelCard(raw: Record<string, unknown> | null | undefined): ModelCardData {
  const card = emptyCard();
  if (!raw) return card;
  const extra: Record<string, unknown> = {};
  const leftover = (key: string, value: unknown): void => {
    if (value !== undefined) extra[key] = value;
  };
  for (const [key, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    switch (key) {
      case 'intendedUse':
      case 'ethicalConsiderations':
        if (typeof value === 'string') card[key] = value.trim() || null;
        else leftover(key, value);
        break;
      case 'outOfScopeUses':
      case 'limitations':
      case 'owners': {
        const { items, rest } = readList(value);
        card[key] = items;
        leftover(key, rest);
        break;
      }
      case 'trainingData': {
        const { data, rest } = readTrainingData(value);
        card.trainingData = data;
        leftover(key, rest);
        break;
      }
      case 'evaluation': {
        const { evaluation, rest } = readEvaluation(value);
        card.evaluation = evaluation;
        leftover(key, rest);
        break;
      }
      case 'extra':
        if (isObject(value)) Object.assign(extra, value);
        else leftover(key, value);
        break;
      default:
        leftover(key, value);
    }
  }
  card.extra = Object.keys(extra).length ? extra : null;
  return card;
}

function readList(value: unknown): { items: string[]; rest?: unknown } {
  if (typeof value === 'string') return { items: value.trim() ? [value.trim()] : [] };
  if (!Array.isArray(value)) return { items: [], rest: value };
  const items: string[] = [];
  const rest: unknown[] = [];
  for (const item of value) {
    const text = nonBlank(item);
    if (text) items.push(text);
    else if (typeof item !== 'string') rest.push(item);
  }
  return { items, rest: rest.length ? rest : undefined };
}

function readTrainingData(value: unknown): { data: CardTrainingData; rest?: unknown } {
  const data: CardTrainingData = { description: null, datasetVersionIds: [] };
  if (typeof value === 'string') return { data: { ...data, description: value.trim() || null } };
  if (!isObject(value)) return { data, rest: value };
  const rest: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === 'description' && typeof item === 'string') data.description = item.trim() || null;
    else if (key === 'datasetVersionIds' && Array.isArray(item) && item.every((id) => typeof id === 'string'))
      data.datasetVersionIds = item as string[];
    else if (item !== null && item !== undefined) rest[key] = item;
  }
  return { data, rest: Object.keys(rest).length ? rest : undefined };
}

function readEvaluation(value: unknown): { evaluation: CardEvaluation; rest?: unknown } {
  const evaluation: CardEvaluation = { metrics: [], slices: [], source: null, runId: null };
  if (!isObject(value)) return { evaluation, rest: value };
  const rest: Record<string, unknown> = {};
  const source = value.source;
  const structured = Object.values(ModelCardMetricSource).includes(source as ModelCardMetricSource);
  for (const [key, item] of Object.entries(value)) {
    if (key === 'metrics' && Array.isArray(item)) {
      const bad: unknown[] = [];
      for (const m of item) {
        if (isObject(m) && nonBlank(m.name) && isFiniteNumber(m.value))
          evaluation.metrics.push({ name: nonBlank(m.name)!, value: m.value, dataset: nonBlank(m.dataset) });
        else bad.push(m);
      }
      if (bad.length) rest.metrics = bad;
    } else if (key === 'metrics' && isObject(item)) {
      const bad: Record<string, unknown> = {};
      for (const [name, v] of Object.entries(item)) {
        if (isFiniteNumber(v) && name.trim()) evaluation.metrics.push({ name, value: v, dataset: null });
        else bad[name] = v;
      }
      if (Object.keys(bad).length) rest.metrics = bad;
    } else if (key === 'slices' && Array.isArray(item)) {
      const bad: unknown[] = [];
      for (const s of item) {
        if (isObject(s) && nonBlank(s.slice) && nonBlank(s.metric) && isFiniteNumber(s.value))
          evaluation.slices.push({
            slice: nonBlank(s.slice)!,
            metric: nonBlank(s.metric)!,
            value: s.value,
            n: Number.isInteger(s.n) ? (s.n as number) : null,
          });
        else bad.push(s);
      }
      if (bad.length) rest.slices = bad;
    } else if (key === 'source' && structured) {
      evaluation.source = source as ModelCardMetricSource;
    } else if (key === 'runId' && structured && (typeof item === 'string' || item === null)) {
      evaluation.runId = item;
    } else if (isFiniteNumber(item) && !structured) {
      // A free-form card's `evaluation: { accuracy: 0.91 }`.
      evaluation.metrics.push({ name: key, value: item, dataset: null });
    } else if (item !== null && item !== undefined) {
      rest[key] = item;
    }
  }
  if (!evaluation.source && (evaluation.metrics.length || evaluation.slices.length))
    evaluation.source = ModelCardMetricSource.CARD;
  return { evaluation, rest: Object.keys(rest).length ? rest : undefined };
}

/** The JSON stored for a structured card: every section present, in a fixed shape. */
export function storedModelCard(card: ModelCardData): Record<string, unknown> {
  const stored: Record<string, unknown> = {
    intendedUse: card.intendedUse,
    outOfScopeUses: card.outOfScopeUses,
    trainingData: card.trainingData,
    evaluation: card.evaluation,
    ethicalConsiderations: card.ethicalConsiderations,
    limitations: card.limitations,
    owners: card.owners,
  };
  if (card.extra && Object.keys(card.extra).length) stored.extra = card.extra;
  return stored;
}

/**
 * The required sections a card misses, in their order. A section counts when its structured form
 * holds something; for a card registered as free-form JSON, content kept under the section's name
 * counts too, as it did before cards were structured.
 */
export function missingSections(card: ModelCardData): ModelCardSection[] {
  const filled: Record<ModelCardSection, boolean> = {
    intendedUse: !!card.intendedUse,
    outOfScopeUses: card.outOfScopeUses.length > 0,
    trainingData: !!card.trainingData.description || card.trainingData.datasetVersionIds.length > 0,
    evaluation: card.evaluation.metrics.length > 0 || card.evaluation.slices.length > 0,
    ethicalConsiderations: !!card.ethicalConsiderations,
    limitations: card.limitations.length > 0,
    owners: card.owners.length > 0,
  };
  return REQUIRED_MODEL_CARD_SECTIONS.filter(
    (section) => !filled[section] && !hasContent(card.extra?.[section]),
  );
}

/** The required sections a stored card (structured or free-form, or none) misses. The one completeness check. */
export function missingModelCardSections(raw: Record<string, unknown> | null | undefined): string[] {
  return missingSections(readModelCard(raw));
}

function text(field: string, value: string | null | undefined, max = MAX_TEXT): string | null {
  if (value == null) return null;
  const trimmed = value.trim();
  if (trimmed.length > max) throw new BadInputError(field, `must be at most ${max} characters`);
  return trimmed || null;
}

function name(field: string, value: string, max = MAX_NAME): string {
  const trimmed = value.trim();
  if (!trimmed || trimmed.length > max) throw new BadInputError(field, `must be 1 to ${max} characters`);
  return trimmed;
}

function list(
  field: string,
  value: readonly string[] | null | undefined,
  check: (field: string, item: string) => string = (f, item) => name(f, item, MAX_ITEM),
): string[] {
  if (!value) return [];
  if (value.length > MAX_ITEMS) throw new BadInputError(field, `must hold at most ${MAX_ITEMS} items`);
  const seen = new Set<string>();
  return value.map((raw, i) => {
    const item = check(`${field}.${i}`, raw);
    if (seen.has(item)) throw new BadInputError(`${field}.${i}`, `repeats "${item}"`);
    seen.add(item);
    return item;
  });
}

function owner(field: string, raw: string): string {
  const value = name(field, raw);
  if (/[\r\n]/.test(value)) throw new BadInputError(field, 'must be one line');
  if (value.includes('@') && !value.includes(' ') && !EMAIL.test(value))
    throw new BadInputError(field, 'is not a valid email address');
  return value;
}

/**
 * Validates what `updateModelCard` was given; errors name the field under `field` (`card.owners.0`,
 * `card.evaluation.metrics.2.value`, ...). Whether the dataset versions exist is the service's check.
 */
export function requireModelCard(input: ModelCardInputLike, field = 'card'): ValidatedModelCard {
  const card = emptyCard();
  card.intendedUse = text(`${field}.intendedUse`, input.intendedUse);
  card.outOfScopeUses = list(`${field}.outOfScopeUses`, input.outOfScopeUses);
  card.ethicalConsiderations = text(`${field}.ethicalConsiderations`, input.ethicalConsiderations);
  card.limitations = list(`${field}.limitations`, input.limitations);
  card.owners = list(`${field}.owners`, input.owners, owner);

  const training = input.trainingData;
  card.trainingData.description = text(`${field}.trainingData.description`, training?.description);
  const fillDatasets = training?.datasetVersionIds == null;
  card.trainingData.datasetVersionIds = list(
    `${field}.trainingData.datasetVersionIds`,
    training?.datasetVersionIds,
    requireId,
  );

  const evaluation = input.evaluation;
  const fillMetrics = evaluation?.metrics == null;
  const metrics = evaluation?.metrics ?? [];
  if (metrics.length > MAX_METRICS)
    throw new BadInputError(`${field}.evaluation.metrics`, `must hold at most ${MAX_METRICS} metrics`);
  const seen = new Set<string>();
  card.evaluation.metrics = metrics.map((m, i) => {
    const at = `${field}.evaluation.metrics.${i}`;
    const metric: CardMetric = {
      name: name(`${at}.name`, m.name),
      value: finite(`${at}.value`, m.value),
      dataset: m.dataset == null ? null : name(`${at}.dataset`, m.dataset),
    };
    const key = JSON.stringify([metric.name, metric.dataset]);
    if (seen.has(key))
      throw new BadInputError(
        `${at}.name`,
        `repeats "${metric.name}"${metric.dataset ? ` on ${metric.dataset}` : ''}`,
      );
    seen.add(key);
    return metric;
  });
  const slices = evaluation?.slices ?? [];
  if (slices.length > MAX_METRICS)
    throw new BadInputError(`${field}.evaluation.slices`, `must hold at most ${MAX_METRICS} slice metrics`);
  const seenSlices = new Set<string>();
  card.evaluation.slices = slices.map((s, i) => {
    const at = `${field}.evaluation.slices.${i}`;
    const slice: CardSliceMetric = {
      slice: name(`${at}.slice`, s.slice),
      metric: name(`${at}.metric`, s.metric),
      value: finite(`${at}.value`, s.value),
      n: s.n ?? null,
    };
    if (slice.n !== null && !(Number.isInteger(slice.n) && slice.n >= 0))
      throw new BadInputError(`${at}.n`, 'must be a whole number of examples, 0 or more');
    const key = JSON.stringify([slice.slice, slice.metric]);
    if (seenSlices.has(key))
      throw new BadInputError(`${at}.metric`, `repeats "${slice.metric}" for slice "${slice.slice}"`);
    seenSlices.add(key);
    return slice;
  });
  if (card.evaluation.metrics.length || card.evaluation.slices.length)
    card.evaluation.source = ModelCardMetricSource.CARD;

  const keepExtra = input.extra == null;
  if (input.extra != null) {
    const extra = input.extra;
    if (!isObject(extra)) throw new BadInputError(`${field}.extra`, 'must be a JSON object');
    for (const key of Object.keys(extra)) {
      if (SECTIONS.has(key) || key === 'extra')
        throw new BadInputError(
          `${field}.extra.${key}`,
          'names a section of the card: give it in its own field',
        );
    }
    canonicalJson(extra, `${field}.extra`);
    if (JSON.stringify(extra).length > MAX_EXTRA_BYTES)
      throw new BadInputError(`${field}.extra`, `must be at most ${MAX_EXTRA_BYTES} bytes`);
    card.extra = Object.keys(extra).length ? { ...extra } : null;
  }
  if (JSON.stringify(storedModelCard(card)).length > MAX_MODEL_CARD_BYTES)
    throw new BadInputError(field, `must be at most ${MAX_MODEL_CARD_BYTES} bytes`);
  return { card, fillDatasets, fillMetrics, keepExtra };
}

function finite(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new BadInputError(field, 'must be a finite number');
  return value;
}

/**
 * The free-form part of a card worth keeping when a structured card replaces it: what was kept under
 * a section's name belonged to that section, which the new card states afresh.
 */
export function carriedExtra(previous: ModelCardData): Record<string, unknown> | null {
  if (!previous.extra) return null;
  const kept = Object.fromEntries(Object.entries(previous.extra).filter(([key]) => !SECTIONS.has(key)));
  return Object.keys(kept).length ? kept : null;
}
