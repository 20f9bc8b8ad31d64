import { BadInputError } from '../../common/errors';
import { murmur3, murmur3Bytes } from '../../common/murmur3';

/**
 * The declarative preprocessing spec that travels with a model version: how raw business fields become
 * the model's float32 input row. Format version 1:
 *
 * ```json
 * { "version": 1, "input": "features", "output": "probabilities",
 *   "features": [
 *     { "name": "age", "kind": "numeric", "scale": { "type": "standard", "mean": 40, "std": 12 }, "default": 40 },
 *     { "name": "embedding", "kind": "vector", "length": 8 },
 *     { "name": "vip", "kind": "boolean" },
 *     { "name": "channel", "kind": "categorical", "categories": ["email", "phone"], "unknown": "ignore" },
 *     { "name": "subject", "kind": "text", "buckets": 512, "ngrams": [1, 2], "analyzer": "word" }
 *   ] }
 * ```
 *
 * A model with several inputs (a tabular model exported from PyTorch or sklearn often takes numeric and
 * one-hot columns as separate tensors) names, per feature, the input it feeds; a feature without
 * `input` feeds the spec's `input`:
 *
 * ```json
 * { "version": 1, "output": "prediction",
 *   "features": [
 *     { "name": "amount", "kind": "numeric", "input": "num" },
 *     { "name": "tenure", "kind": "numeric", "input": "num" },
 *     { "name": "plan", "kind": "categorical", "categories": ["free", "pro"], "input": "cat" }
 *   ] }
 * ```
 *
 * Each input's columns are its features' in feature order, and a row holds the inputs one after the
 * other ({@link Preprocessor.inputs}); with one input that is simply feature order. The row width is the
 * sum of the features' widths. Training code runs the same {@link Preprocessor} as the hub, so what a
 * model learned is what it is served.
 */
export interface PreprocessingSpec {
  version: 1;
  /** The model input tensor fed by features that name none; defaults to the model's only input. */
  input?: string;
  /** The output tensor read for answers; defaults to the model's first tensor output. */
  output?: string;
  features: FeatureSpec[];
}

export type Scale =
  { type: 'standard'; mean: number; std: number } | { type: 'minmax'; min: number; max: number };

/** The model input a feature's columns go to; the spec's `input` when absent. */
interface FeedsInput {
  input?: string;
}

export type FeatureSpec = FeedsInput & FeatureOfKind;

type FeatureOfKind =
  | { name: string; kind: 'numeric'; scale?: Scale; clip?: [number, number]; default?: number }
  | { name: string; kind: 'vector'; length: number; default?: number[] }
  | { name: string; kind: 'boolean'; default?: boolean }
  | {
      name: string;
      kind: 'categorical';
      categories: string[];
      /** `ignore` (default) encodes an unseen category as all zeros; `error` rejects it. */
      unknown?: 'ignore' | 'error';
      default?: string;
    }
  | {
      name: string;
      kind: 'text';
      /** Hash buckets (columns): n-grams are hashed with MurmurHash3 (x86, 32-bit, seed 0) modulo this. */
      buckets: number;
      /** Smallest and largest n-gram length; default [1, 1]. */
      ngrams?: [number, number];
      /** `word` n-grams over tokens of letters and digits, or `char` n-grams over the text; default word. */
      analyzer?: 'word' | 'char';
      /** Default true. */
      lowercase?: boolean;
      /** `l2` (default) scales the counts to unit length; `none` keeps them. */
      norm?: 'l2' | 'none';
      /** Count presence (1) rather than occurrences. Default false. */
      binary?: boolean;
      default?: string;
    };

export const FEATURE_KINDS = ['numeric', 'vector', 'boolean', 'categorical', 'text'] as const;

const MAX_FEATURES = 10_000;
const MAX_WIDTH = 1 << 20;
const MAX_TEXT_LENGTH = 100_000;

/**
 * The columns of a row that one model input takes: `width` of them from `offset`. `name` is undefined
 * for features that name no input where the spec names none either: the model's only input.
 */
export interface InputColumns {
  name: string | undefined;
  offset: number;
  width: number;
  /** Where the name was given, under the spec: `input` or `features.<i>.input`. */
  field: string;
}

/** A compiled spec: validates raw rows and writes them into a float32 matrix. */
export class Preprocessor {
  /** Columns per row. */
  readonly width: number;
  readonly featureNames: string[];
  /** The model inputs the row feeds, in the order their columns sit in it. */
  readonly inputs: InputColumns[];
  private readonly encoders: Encoder[];
  /** The column of a row where each encoder (in feature order) writes. */
  private readonly offsets: Int32Array;
  private readonly known: Set<string>;

  constructor(readonly spec: PreprocessingSpec) {
    this.encoders = spec.features.map((f) => encoderFor(f));
    this.width = this.encoders.reduce((sum, e) => sum + e.width, 0);
    this.featureNames = spec.features.map((f) => f.name);
    this.known = new Set(this.featureNames);
    const groups = new Map<string | undefined, { field: string; features: number[] }>();
    spec.features.forEach((f, i) => {
      const name = f.input ?? spec.input;
      let group = groups.get(name);
      if (!group) {
        group = { field: f.input !== undefined ? `features.${i}.input` : 'input', features: [] };
        groups.set(name, group);
      }
      group.features.push(i);
    });
    this.offsets = new Int32Array(this.encoders.length);
    this.inputs = [];
    let at = 0;
    for (const [name, group] of groups) {
      const offset = at;
      for (const i of group.features) {
        this.offsets[i] = at;
        at += this.encoders[i].width;
      }
      this.inputs.push({ name, offset, width: at - offset, field: group.field });
    }
  }

  /**
   * Validates and encodes rows into a new [rows.length, width] matrix. `fieldOf(i)` names row i in errors
   * (`input`, `inputs.3`); the first bad value throws BadInputError naming `<row field>.<feature>`.
   */
  encode(rows: readonly unknown[], fieldOf: (row: number) => string): Float32Array {
    const out = new Float32Array(rows.length * this.width);
    this.encodeRows(rows, fieldOf, out, 0, rows.length);
    return out;
  }

  /**
   * Rows [start, end) of {@link encode}, into those rows of `out`, a [rows.length, width] matrix that
   * holds zeros there (a new one): lets a caller encode a large batch a chunk at a time.
   */
  encodeRows(
    rows: readonly unknown[],
    fieldOf: (row: number) => string,
    out: Float32Array,
    start: number,
    end: number,
  ): void {
    for (let r = start; r < end; r++) this.encodeRow(rows[r], fieldOf(r), out, r * this.width);
  }

  private encodeRow(row: unknown, field: string, out: Float32Array, offset: number): void {
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw new BadInputError(field, 'must be an object of feature values');
    const values = row as Record<string, unknown>;
    for (const key of Object.keys(values)) {
      if (!this.known.has(key))
        throw new BadInputError(
          `${field}.${key}`,
          `is not a feature of this model (${this.describeFeatures()})`,
        );
    }
    const encoders = this.encoders;
    for (let i = 0; i < encoders.length; i++) {
      const encoder = encoders[i];
      encoder.write(values[encoder.name], `${field}.${encoder.name}`, out, offset + this.offsets[i]);
    }
  }

  private describeFeatures(): string {
    const names = this.featureNames;
    return names.length <= 20
      ? `expected ${names.join(', ')}`
      : `expected ${names.slice(0, 20).join(', ')}, ... (${names.length} features)`;
  }
}

interface Encoder {
  name: string;
  width: number;
  write(value: unknown, field: string, out: Float32Array, at: number): void;
}

function encoderFor(f: FeatureSpec): Encoder {
  switch (f.kind) {
    case 'numeric':
      return {
        name: f.name,
        width: 1,
        write: (value, field, out, at) => {
          let x = number(value ?? f.default, field);
          if (f.clip) x = Math.min(Math.max(x, f.clip[0]), f.clip[1]);
          out[at] = scale(x, f.scale);
        },
      };
    case 'vector':
      return {
        name: f.name,
        width: f.length,
        write: (value, field, out, at) => {
          const v = value ?? f.default;
          if (!Array.isArray(v))
            throw new BadInputError(field, `must be a list of ${f.length} numbers, got ${describe(v)}`);
          if (v.length !== f.length)
            throw new BadInputError(field, `must hold exactly ${f.length} numbers, got ${v.length}`);
          for (let i = 0; i < v.length; i++) out[at + i] = number(v[i], `${field}.${i}`);
        },
      };
    case 'boolean':
      return {
        name: f.name,
        width: 1,
        write: (value, field, out, at) => {
          const v = value ?? f.default;
          if (typeof v !== 'boolean')
            throw new BadInputError(field, `must be true or false, got ${describe(v)}`);
          out[at] = v ? 1 : 0;
        },
      };
    case 'categorical': {
      const index = new Map(f.categories.map((c, i) => [c, i]));
      return {
        name: f.name,
        width: f.categories.length,
        write: (value, field, out, at) => {
          const v = value ?? f.default;
          if (typeof v !== 'string') throw new BadInputError(field, `must be a string, got ${describe(v)}`);
          const i = index.get(v);
          if (i !== undefined) out[at + i] = 1;
          else if (f.unknown === 'error')
            throw new BadInputError(
              field,
              `must be one of ${f.categories.slice(0, 20).join(', ')}; got "${clip(v)}"`,
            );
        },
      };
    }
    case 'text':
      return {
        name: f.name,
        width: f.buckets,
        write: (value, field, out, at) => {
          const v = value ?? f.default;
          if (typeof v !== 'string') throw new BadInputError(field, `must be a string, got ${describe(v)}`);
          if (v.length > MAX_TEXT_LENGTH)
            throw new BadInputError(field, `must be at most ${MAX_TEXT_LENGTH} characters, got ${v.length}`);
          hashText(v, f, out, at);
        },
      };
  }
}

function number(value: unknown, field: string): number {
  if (typeof value !== 'number') throw new BadInputError(field, `must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new BadInputError(field, `must be a finite number, got ${value}`);
  return value;
}

function scale(x: number, s: Scale | undefined): number {
  if (!s) return x;
  return s.type === 'standard' ? (x - s.mean) / s.std : (x - s.min) / (s.max - s.min);
}

const TOKEN = /[\p{L}\p{N}]+/gu;

/** The n-grams of a text as the spec defines them, in order (repeats included). */
export function ngrams(text: string, f: Extract<FeatureSpec, { kind: 'text' }>): string[] {
  const source = f.lowercase === false ? text : text.toLowerCase();
  const [lo, hi] = f.ngrams ?? [1, 1];
  const units =
    f.analyzer === 'char' ? Array.from(source.replace(/\s+/g, ' ').trim()) : (source.match(TOKEN) ?? []);
  const joiner = f.analyzer === 'char' ? '' : ' ';
  const grams: string[] = [];
  for (let n = lo; n <= hi; n++) {
    for (let i = 0; i + n <= units.length; i++) grams.push(units.slice(i, i + n).join(joiner));
  }
  return grams;
}

type TextFeature = Extract<FeatureSpec, { kind: 'text' }>;

/** Hashed n-gram counts of `text` into `out[at, at + buckets)`, which holds zeros (encode() allocates it). */
function hashText(text: string, f: TextFeature, out: Float32Array, at: number): void {
  if (!hashAsciiText(text, f, out, at)) hashTextReference(text, f, out, at);
}

/**
 * The definition of a text feature's columns: n-grams as strings ({@link ngrams}), each hashed with
 * {@link murmur3}. Serves non-ASCII text; the spec holds {@link hashAsciiText} to it bit for bit.
 */
export function hashTextReference(text: string, f: TextFeature, out: Float32Array, at: number): void {
  const counts = new Map<number, number>();
  for (const gram of ngrams(text, f)) {
    const bucket = murmur3(gram) % f.buckets;
    counts.set(bucket, f.binary ? 1 : (counts.get(bucket) ?? 0) + 1);
  }
  let norm = 1;
  if ((f.norm ?? 'l2') === 'l2') {
    let sum = 0;
    for (const c of counts.values()) sum += c * c;
    norm = sum > 0 ? Math.sqrt(sum) : 1;
  }
  for (const [bucket, c] of counts) out[at + bucket] = c / norm;
}

/** 1 for the ASCII characters of \p{L} and \p{N}: the word analyzer's token characters. */
const WORD_BYTE = new Uint8Array(128);
const WORD_CHAR = new RegExp(TOKEN.source, 'u');
for (let c = 0; c < 128; c++) WORD_BYTE[c] = WORD_CHAR.test(String.fromCharCode(c)) ? 1 : 0;
/** 1 for the ASCII characters of \s (and of trim()): tab, line feed, vertical tab, form feed, return, space. */
const SPACE_BYTE = new Uint8Array(128);
for (let c = 0; c < 128; c++) SPACE_BYTE[c] = /\s/.test(String.fromCharCode(c)) ? 1 : 0;

/**
 * Scratch reused by every call (encoding is synchronous): the text's units as bytes, and each unit's
 * [start, end) in them. Word tokens are written with one 0x20 byte between neighbours, so the n-gram
 * of tokens i..j is the byte range starts[i]..ends[j], exactly the UTF-8 of the joined string.
 */
let unitBytes = new Uint8Array(1024);
let starts = new Int32Array(256);
let ends = new Int32Array(256);
let touched = new Int32Array(256);

/**
 * The same columns as {@link hashTextReference} without a string per n-gram, when the text is pure
 * ASCII (where lowercasing is A-Z to a-z): one pass tokenizes into scratch bytes, n-grams are hashed
 * from byte ranges and counted straight into `out` (zeros on entry). Returns false, having written
 * nothing, for text with any non-ASCII character.
 */
export function hashAsciiText(text: string, f: TextFeature, out: Float32Array, at: number): boolean {
  const length = text.length;
  if (unitBytes.length < 2 * length + 1) unitBytes = new Uint8Array(2 * length + 1);
  const bytes = unitBytes;
  const lower = f.lowercase !== false;
  const char = f.analyzer === 'char';
  let units = 0;
  let w = 0;
  if (char) {
    // \s+ collapsed to one space, then trimmed; every byte is a unit.
    let pendingSpace = false;
    for (let i = 0; i < length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0x80) return false;
      if (SPACE_BYTE[c] === 1) {
        pendingSpace = w > 0;
        continue;
      }
      if (pendingSpace) {
        bytes[w++] = 0x20;
        pendingSpace = false;
      }
      if (lower && c >= 0x41 && c <= 0x5a) c += 0x20;
      bytes[w++] = c;
    }
    units = w;
  } else {
    if (starts.length < length) {
      starts = new Int32Array(length);
      ends = new Int32Array(length);
    }
    let inToken = false;
    for (let i = 0; i < length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0x80) return false;
      if (WORD_BYTE[c] === 1) {
        if (!inToken) {
          if (units > 0) bytes[w++] = 0x20;
          starts[units] = w;
          inToken = true;
        }
        if (lower && c >= 0x41 && c <= 0x5a) c += 0x20;
        bytes[w++] = c;
      } else if (inToken) {
        ends[units++] = w;
        inToken = false;
      }
    }
    if (inToken) ends[units++] = w;
  }

  const [lo, hi] = f.ngrams ?? [1, 1];
  const buckets = f.buckets;
  const binary = f.binary === true;
  let distinct = 0;
  for (let n = lo; n <= hi; n++) {
    for (let i = 0; i + n <= units; i++) {
      const hash = char ? murmur3Bytes(bytes, i, i + n) : murmur3Bytes(bytes, starts[i], ends[i + n - 1]);
      const k = at + (hash % buckets);
      const c = out[k];
      if (c === 0) {
        if (distinct === touched.length) {
          const grown = new Int32Array(2 * distinct);
          grown.set(touched);
          touched = grown;
        }
        touched[distinct++] = k;
      }
      // Exact in float32: a text of at most MAX_TEXT_LENGTH characters has far fewer than 2^24 n-grams.
      out[k] = binary ? 1 : c + 1;
    }
  }
  if ((f.norm ?? 'l2') === 'l2' && distinct > 0) {
    // Integer counts: the sum of squares is exact in any order, so it equals the reference's.
    let sum = 0;
    for (let j = 0; j < distinct; j++) {
      const c = out[touched[j]];
      sum += c * c;
    }
    const norm = Math.sqrt(sum);
    for (let j = 0; j < distinct; j++) out[touched[j]] = out[touched[j]] / norm;
  }
  return true;
}

/**
 * Checks a spec and compiles it; every problem throws BadInputError naming its path under `field`
 * (`preprocessing.features.2.buckets`).
 */
export function compilePreprocessing(raw: unknown, field = 'preprocessing'): Preprocessor {
  const spec = object(raw, field);
  if (spec.version !== 1)
    throw new BadInputError(`${field}.version`, 'must be 1 (the only spec format so far)');
  for (const key of Object.keys(spec)) {
    if (!['version', 'input', 'output', 'features'].includes(key))
      throw new BadInputError(
        `${field}.${key}`,
        'is not part of the spec (version, input, output, features)',
      );
  }
  for (const key of ['input', 'output'] as const) {
    if (spec[key] !== undefined && (typeof spec[key] !== 'string' || !spec[key]))
      throw new BadInputError(`${field}.${key}`, 'must be a tensor name');
  }
  if (!Array.isArray(spec.features) || spec.features.length === 0)
    throw new BadInputError(`${field}.features`, 'must be a non-empty list');
  if (spec.features.length > MAX_FEATURES)
    throw new BadInputError(`${field}.features`, `must hold at most ${MAX_FEATURES} features`);
  const seen = new Set<string>();
  const features = spec.features.map((f, i) => checkFeature(f, `${field}.features.${i}`, seen));
  if (features.some((f) => f.input === undefined) && spec.input === undefined) {
    const named = features.findIndex((f) => f.input !== undefined);
    if (named >= 0)
      throw new BadInputError(
        `${field}.features.${features.findIndex((f) => f.input === undefined)}.input`,
        `must name the model input it feeds: features.${named} names one, and there is no spec-wide input`,
      );
  }
  const preprocessor = new Preprocessor({
    version: 1,
    input: spec.input as string | undefined,
    output: spec.output as string | undefined,
    features,
  });
  if (preprocessor.width > MAX_WIDTH)
    throw new BadInputError(
      `${field}.features`,
      `make rows of ${preprocessor.width} columns; at most ${MAX_WIDTH}`,
    );
  return preprocessor;
}

/** The implicit spec of a version registered with feature names only: each one a raw number. */
export function numericSpec(featureNames: readonly string[]): PreprocessingSpec {
  return { version: 1, features: featureNames.map((name) => ({ name, kind: 'numeric' })) };
}

function checkFeature(raw: unknown, field: string, seen: Set<string>): FeatureSpec {
  const f = object(raw, field);
  if (typeof f.name !== 'string' || !f.name.trim() || f.name.length > 200)
    throw new BadInputError(`${field}.name`, 'must be 1 to 200 characters');
  if (seen.has(f.name)) throw new BadInputError(`${field}.name`, `repeats "${f.name}"`);
  seen.add(f.name);
  if (f.input !== undefined && (typeof f.input !== 'string' || !f.input))
    throw new BadInputError(`${field}.input`, 'must be a tensor name');
  const feeds = f.input === undefined ? {} : { input: f.input as string };
  const allowed = (...keys: string[]): void => {
    for (const key of Object.keys(f)) {
      if (!['name', 'kind', 'default', 'input', ...keys].includes(key))
        throw new BadInputError(`${field}.${key}`, `is not an option of a ${String(f.kind)} feature`);
    }
  };
  const name = f.name;
  switch (f.kind) {
    case 'numeric': {
      allowed('scale', 'clip');
      const s = f.scale === undefined ? undefined : checkScale(f.scale, `${field}.scale`);
      let clipRange: [number, number] | undefined;
      if (f.clip !== undefined) {
        const c = f.clip;
        if (!Array.isArray(c) || c.length !== 2 || !c.every(isFiniteNumber) || c[0] > c[1])
          throw new BadInputError(`${field}.clip`, 'must be [low, high] with low <= high');
        clipRange = [c[0], c[1]];
      }
      if (f.default !== undefined && !isFiniteNumber(f.default))
        throw new BadInputError(`${field}.default`, 'must be a finite number');
      return {
        ...feeds,
        name,
        kind: 'numeric',
        scale: s,
        clip: clipRange,
        default: f.default as number | undefined,
      };
    }
    case 'vector': {
      allowed('length');
      const length = positiveInt(f.length, `${field}.length`, MAX_WIDTH);
      if (
        f.default !== undefined &&
        (!Array.isArray(f.default) || f.default.length !== length || !f.default.every(isFiniteNumber))
      )
        throw new BadInputError(`${field}.default`, `must be a list of ${length} finite numbers`);
      return { ...feeds, name, kind: 'vector', length, default: f.default as number[] | undefined };
    }
    case 'boolean':
      allowed();
      if (f.default !== undefined && typeof f.default !== 'boolean')
        throw new BadInputError(`${field}.default`, 'must be true or false');
      return { ...feeds, name, kind: 'boolean', default: f.default as boolean | undefined };
    case 'categorical': {
      allowed('categories', 'unknown');
      const c = f.categories;
      if (!Array.isArray(c) || c.length === 0 || !c.every((v) => typeof v === 'string'))
        throw new BadInputError(`${field}.categories`, 'must be a non-empty list of strings');
      if (new Set(c).size !== c.length)
        throw new BadInputError(`${field}.categories`, 'must not repeat a category');
      if (f.unknown !== undefined && f.unknown !== 'ignore' && f.unknown !== 'error')
        throw new BadInputError(`${field}.unknown`, 'must be "ignore" or "error"');
      if (f.default !== undefined && (typeof f.default !== 'string' || !c.includes(f.default)))
        throw new BadInputError(`${field}.default`, 'must be one of the categories');
      return {
        ...feeds,
        name,
        kind: 'categorical',
        categories: c as string[],
        unknown: f.unknown as 'ignore' | 'error' | undefined,
        default: f.default as string | undefined,
      };
    }
    case 'text': {
      allowed('buckets', 'ngrams', 'analyzer', 'lowercase', 'norm', 'binary');
      const buckets = positiveInt(f.buckets, `${field}.buckets`, MAX_WIDTH);
      let range: [number, number] | undefined;
      if (f.ngrams !== undefined) {
        const g = f.ngrams;
        if (
          !Array.isArray(g) ||
          g.length !== 2 ||
          !g.every((n) => Number.isInteger(n) && n >= 1 && n <= 10) ||
          g[0] > g[1]
        )
          throw new BadInputError(`${field}.ngrams`, 'must be [min, max] with 1 <= min <= max <= 10');
        range = [g[0], g[1]];
      }
      if (f.analyzer !== undefined && f.analyzer !== 'word' && f.analyzer !== 'char')
        throw new BadInputError(`${field}.analyzer`, 'must be "word" or "char"');
      if (f.norm !== undefined && f.norm !== 'l2' && f.norm !== 'none')
        throw new BadInputError(`${field}.norm`, 'must be "l2" or "none"');
      for (const key of ['lowercase', 'binary'] as const) {
        if (f[key] !== undefined && typeof f[key] !== 'boolean')
          throw new BadInputError(`${field}.${key}`, 'must be true or false');
      }
      if (f.default !== undefined && typeof f.default !== 'string')
        throw new BadInputError(`${field}.default`, 'must be a string');
      return {
        ...feeds,
        name,
        kind: 'text',
        buckets,
        ngrams: range,
        analyzer: f.analyzer as 'word' | 'char' | undefined,
        lowercase: f.lowercase as boolean | undefined,
        norm: f.norm as 'l2' | 'none' | undefined,
        binary: f.binary as boolean | undefined,
        default: f.default as string | undefined,
      };
    }
    default:
      throw new BadInputError(`${field}.kind`, `must be one of ${FEATURE_KINDS.join(', ')}`);
  }
}

function checkScale(raw: unknown, field: string): Scale {
  const s = object(raw, field);
  if (s.type === 'standard') {
    if (!isFiniteNumber(s.mean)) throw new BadInputError(`${field}.mean`, 'must be a finite number');
    if (!isFiniteNumber(s.std) || s.std <= 0)
      throw new BadInputError(`${field}.std`, 'must be a positive number');
    return { type: 'standard', mean: s.mean, std: s.std };
  }
  if (s.type === 'minmax') {
    if (!isFiniteNumber(s.min)) throw new BadInputError(`${field}.min`, 'must be a finite number');
    if (!isFiniteNumber(s.max) || s.max <= s.min)
      throw new BadInputError(`${field}.max`, 'must be a number above min');
    return { type: 'minmax', min: s.min, max: s.max };
  }
  throw new BadInputError(`${field}.type`, 'must be "standard" or "minmax"');
}

function object(raw: unknown, field: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new BadInputError(field, 'must be an object');
  return raw as Record<string, unknown>;
}

function positiveInt(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw new BadInputError(field, `must be a whole number from 1 to ${max}`);
  return value;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}...` : s);

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the feature is missing and has no default)';
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string "${clip(value)}"`;
  if (typeof value === 'number') return String(value);
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}
