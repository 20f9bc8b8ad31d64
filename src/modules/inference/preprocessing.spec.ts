import { BadInputError } from '../../common/errors';
import { mulberry32 } from '../../common/random';
import { generateTickets } from '../../training/ticket-dataset';
import { murmur3 } from '../../common/murmur3';
import {
  compilePreprocessing,
  hashAsciiText,
  hashTextReference,
  ngrams,
  numericSpec,
  type PreprocessingSpec,
} from './preprocessing';

const one = (spec: PreprocessingSpec, row: unknown): number[] =>
  Array.from(compilePreprocessing(spec).encode([row], () => 'input'));

/** The BadInputError thrown by `fn`: its field and message. */
function badInput(fn: () => unknown): { field: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    const e = error as BadInputError;
    return { field: e.extensions.field, message: e.message };
  }
  throw new Error('expected a BadInputError');
}

const spec = (...features: PreprocessingSpec['features']): PreprocessingSpec => ({ version: 1, features });

describe('preprocessing', () => {
  describe('layout', () => {
    it('lays features out in spec order; width and featureNames follow the spec', () => {
      const p = compilePreprocessing(
        spec(
          { name: 'age', kind: 'numeric' },
          { name: 'tier', kind: 'categorical', categories: ['free', 'pro'] },
          { name: 'emb', kind: 'vector', length: 3 },
          { name: 'vip', kind: 'boolean' },
        ),
      );
      expect(p.width).toBe(7);
      expect(p.featureNames).toEqual(['age', 'tier', 'emb', 'vip']);
      const x = p.encode(
        [
          { age: 30, tier: 'pro', emb: [1, 2, 3], vip: true },
          { vip: false, emb: [0, -1, 0.5], tier: 'free', age: -2 },
        ],
        (i) => `inputs.${i}`,
      );
      expect(x).toBeInstanceOf(Float32Array);
      expect(Array.from(x)).toEqual([30, 0, 1, 1, 2, 3, 1, -2, 1, 0, 0, -1, 0.5, 0]);
    });

    it('names the row in errors with fieldOf, and rejects non-objects and unknown fields', () => {
      const p = compilePreprocessing(spec({ name: 'age', kind: 'numeric' }));
      expect(badInput(() => p.encode([{ age: 1 }, { age: 'x' }], (i) => `inputs.${i}`))).toEqual({
        field: 'inputs.1.age',
        message: 'inputs.1.age: must be a number, got the string "x"',
      });
      for (const row of [null, 7, 'age', [1]]) {
        expect(badInput(() => p.encode([row], () => 'input'))).toEqual({
          field: 'input',
          message: 'input: must be an object of feature values',
        });
      }
      expect(badInput(() => p.encode([{ age: 1, agee: 2 }], () => 'input'))).toEqual({
        field: 'input.agee',
        message: 'input.agee: is not a feature of this model (expected age)',
      });
    });

    it('encodes a batch a range of rows at a time into one matrix, as encode does at once', () => {
      const p = compilePreprocessing(
        spec({ name: 'age', kind: 'numeric' }, { name: 'note', kind: 'text', buckets: 8, ngrams: [1, 2] }),
      );
      const rows = Array.from({ length: 10 }, (_, i) => ({ age: i, note: `Note ${i % 3} for row ${i}` }));
      const field = (i: number): string => `inputs.${i}`;
      const out = new Float32Array(rows.length * p.width);
      for (const [start, end] of [
        [0, 4],
        [4, 8],
        [8, 10],
      ])
        p.encodeRows(rows, field, out, start, end);
      expect(Array.from(out)).toEqual(Array.from(p.encode(rows, field)));
      rows[6] = { age: 6, note: 7 as unknown as string };
      expect(badInput(() => p.encodeRows(rows, field, out, 4, 8)).field).toBe('inputs.6.note');
    });

    it('reads feature names as raw numbers in numericSpec', () => {
      expect(one(numericSpec(['a', 'b']), { a: 1.5, b: -3 })).toEqual([1.5, -3]);
    });
  });

  describe('numeric', () => {
    it('standardizes, min-max scales, clips before scaling, and falls back to the default', () => {
      const p = spec(
        { name: 'a', kind: 'numeric', scale: { type: 'standard', mean: 10, std: 4 } },
        { name: 'b', kind: 'numeric', scale: { type: 'minmax', min: 0, max: 200 } },
        { name: 'c', kind: 'numeric', clip: [0, 5], scale: { type: 'minmax', min: 0, max: 10 } },
        { name: 'd', kind: 'numeric', default: 7 },
      );
      expect(one(p, { a: 18, b: 50, c: 99, d: 1 })).toEqual([2, 0.25, 0.5, 1]);
      expect(one(p, { a: 10, b: 0, c: -3, d: null })).toEqual([0, 0, 0, 7]);
      expect(one(p, { a: 10, b: 0, c: 1 })).toEqual([0, 0, Math.fround(0.1), 7]);
    });

    it('rejects missing, non-numeric and non-finite values, naming the field', () => {
      const p = compilePreprocessing(spec({ name: 'age', kind: 'numeric' }));
      const encode = (row: unknown) => () => p.encode([row], () => 'input');
      expect(badInput(encode({}))).toEqual({
        field: 'input.age',
        message: 'input.age: must be a number, got nothing (the feature is missing and has no default)',
      });
      expect(badInput(encode({ age: '42' })).message).toBe(
        'input.age: must be a number, got the string "42"',
      );
      expect(badInput(encode({ age: true })).message).toBe('input.age: must be a number, got a boolean');
      expect(badInput(encode({ age: [1] })).message).toBe('input.age: must be a number, got a list');
      expect(badInput(encode({ age: Infinity })).message).toBe(
        'input.age: must be a finite number, got Infinity',
      );
      expect(badInput(encode({ age: NaN })).field).toBe('input.age');
    });
  });

  describe('vector', () => {
    it('copies a fixed-length list, or its default', () => {
      const p = spec({ name: 'v', kind: 'vector', length: 2, default: [9, 8] });
      expect(one(p, { v: [0.5, -1] })).toEqual([0.5, -1]);
      expect(one(p, {})).toEqual([9, 8]);
    });

    it('rejects a wrong length or a bad element, naming its index', () => {
      const p = compilePreprocessing(spec({ name: 'v', kind: 'vector', length: 2 }));
      const encode = (row: unknown) => () => p.encode([row], () => 'input');
      expect(badInput(encode({ v: [1] })).message).toBe('input.v: must hold exactly 2 numbers, got 1');
      expect(badInput(encode({ v: 'ab' })).message).toBe(
        'input.v: must be a list of 2 numbers, got the string "ab"',
      );
      expect(badInput(encode({ v: [1, 'x'] }))).toEqual({
        field: 'input.v.1',
        message: 'input.v.1: must be a number, got the string "x"',
      });
    });
  });

  describe('boolean', () => {
    it('encodes true as 1 and false as 0, and rejects anything else', () => {
      const p = spec({ name: 'vip', kind: 'boolean', default: true });
      expect(one(p, { vip: false })).toEqual([0]);
      expect(one(p, {})).toEqual([1]);
      expect(badInput(() => one(spec({ name: 'vip', kind: 'boolean' }), { vip: 1 }))).toEqual({
        field: 'input.vip',
        message: 'input.vip: must be true or false, got 1',
      });
    });
  });

  describe('categorical', () => {
    const categories = ['email', 'chat', 'phone'];

    it('one-hot encodes known categories; an unknown one is all zeros by default', () => {
      const p = spec({ name: 'channel', kind: 'categorical', categories, default: 'chat' });
      expect(one(p, { channel: 'phone' })).toEqual([0, 0, 1]);
      expect(one(p, { channel: 'fax' })).toEqual([0, 0, 0]);
      expect(one(p, {})).toEqual([0, 1, 0]);
    });

    it('rejects an unknown category when told to, and non-strings always', () => {
      const strict = spec({ name: 'channel', kind: 'categorical', categories, unknown: 'error' });
      expect(badInput(() => one(strict, { channel: 'fax' }))).toEqual({
        field: 'input.channel',
        message: 'input.channel: must be one of email, chat, phone; got "fax"',
      });
      expect(badInput(() => one(strict, { channel: 3 })).message).toBe(
        'input.channel: must be a string, got 3',
      );
    });
  });

  describe('text', () => {
    const text = (extra: Partial<Extract<PreprocessingSpec['features'][number], { kind: 'text' }>> = {}) =>
      spec({ name: 'body', kind: 'text', buckets: 16, ...extra });

    it('builds word n-grams over letters and digits, lowercased, in order with repeats', () => {
      const f = { name: 't', kind: 'text', buckets: 8 } as const;
      expect(ngrams('Hello, World! hello 42x', f)).toEqual(['hello', 'world', 'hello', '42x']);
      expect(ngrams('A b C', { ...f, ngrams: [1, 2] })).toEqual(['a', 'b', 'c', 'a b', 'b c']);
      expect(ngrams('A b C', { ...f, ngrams: [2, 3] })).toEqual(['a b', 'b c', 'a b c']);
      expect(ngrams('Café über', { ...f, lowercase: false })).toEqual(['Café', 'über']);
      expect(ngrams('  ab  c ', { ...f, analyzer: 'char', ngrams: [2, 2] })).toEqual(['ab', 'b ', ' c']);
      expect(ngrams('', f)).toEqual([]);
    });

    it('hashes each n-gram with MurmurHash3 into buckets and scales the counts to unit length', () => {
      const row = one(text(), { body: 'refund refund invoice' });
      const expected = new Array<number>(16).fill(0);
      expected[murmur3('refund') % 16] += 2;
      expected[murmur3('invoice') % 16] += 1;
      const norm = Math.hypot(...expected);
      expect(row).toHaveLength(16);
      row.forEach((v, i) => expect(v).toBeCloseTo(expected[i] / norm, 6));
      expect(Math.hypot(...row)).toBeCloseTo(1, 6);
    });

    it('keeps raw counts with norm none, and presence only with binary', () => {
      const bucket = murmur3('refund') % 16;
      expect(one(text({ norm: 'none' }), { body: 'Refund REFUND refund' })[bucket]).toBe(3);
      expect(one(text({ norm: 'none', binary: true }), { body: 'refund refund' })[bucket]).toBe(1);
    });

    it('hashes bigrams as the words joined by one space, and char n-grams as they are', () => {
      const row = one(text({ norm: 'none', ngrams: [2, 2] }), { body: 'Credit   card' });
      expect(row[murmur3('credit card') % 16]).toBe(1);
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
      const chars = one(text({ norm: 'none', analyzer: 'char', ngrams: [3, 3] }), { body: 'abcd' });
      const expected = new Array<number>(16).fill(0);
      for (const g of ['abc', 'bcd']) expected[murmur3(g) % 16]++;
      expect(chars).toEqual(expected);
    });

    it('encodes empty text as zeros, falls back to the default, and rejects non-strings and huge texts', () => {
      expect(one(text(), { body: '' })).toEqual(new Array(16).fill(0));
      expect(one(text({ default: 'refund' }), {})[murmur3('refund') % 16]).toBe(1);
      expect(badInput(() => one(text(), {}))).toEqual({
        field: 'input.body',
        message: 'input.body: must be a string, got nothing (the feature is missing and has no default)',
      });
      expect(badInput(() => one(text(), { body: 'x'.repeat(100_001) })).message).toBe(
        'input.body: must be at most 100000 characters, got 100001',
      );
    });
  });

  describe('text: the ASCII fast path', () => {
    type TextFeature = Extract<PreprocessingSpec['features'][number], { kind: 'text' }>;

    /** Every combination of the options that shape a text feature's columns. */
    const options: TextFeature[] = [];
    for (const analyzer of ['word', 'char', undefined] as const)
      for (const range of [[1, 1], [1, 2], [2, 3], [1, 10], undefined] as const)
        for (const lowercase of [true, false, undefined])
          for (const norm of ['l2', 'none', undefined] as const)
            for (const binary of [true, false, undefined])
              for (const buckets of [1, 7, 1024])
                options.push({
                  name: 't',
                  kind: 'text',
                  buckets,
                  ngrams: range && [range[0], range[1]],
                  analyzer,
                  lowercase,
                  norm,
                  binary,
                });

    const ASCII_PIECES = [
      ' ',
      '  ',
      '   ',
      '\t',
      '\n',
      '\r\n',
      '\v',
      '\f',
      '\x1c',
      '\0',
      '.',
      ',',
      '!?',
      "'",
      '"',
      '-',
      '_',
      '/',
      '\\',
      '#42',
      '$',
      '%',
      '&',
      '(',
      ')',
      '[x]',
      '{}',
      '@',
      '~',
      '`',
      '^',
      '|',
      '+=',
      '<>',
      ';:',
      'A',
      'z',
      'Zz',
      '0',
      '9',
      '007',
      'x2y',
      'REFUND',
      'Order',
      'e-mail',
    ];
    const UNICODE_PIECES = [
      'é',
      'Ü',
      'ß',
      'İ',
      'ǅ',
      'K',
      'ﬁ',
      '日本語',
      '٣',
      '²',
      'ⅷ',
      '\u0080',
      '\u0085',
      '\u00a0',
      '\u2028',
      '\ufeff',
      '🎉',
      '\ud800',
      'Ω',
    ];

    /** A random text of ASCII pieces, punctuation and whitespace runs; with `unicode`, some non-ASCII too. */
    function randomText(random: () => number, unicode: boolean): string {
      let text = '';
      const pieces = Math.floor(random() * 30);
      for (let i = 0; i < pieces; i++) {
        const r = random();
        if (unicode && r < 0.1) text += UNICODE_PIECES[Math.floor(random() * UNICODE_PIECES.length)];
        else if (r < 0.4) text += ASCII_PIECES[Math.floor(random() * ASCII_PIECES.length)];
        else if (r < 0.5) text += String.fromCharCode(Math.floor(random() * 128));
        else {
          const length = 1 + Math.floor(random() * 8);
          for (let j = 0; j < length; j++) text += String.fromCharCode(0x41 + Math.floor(random() * 58));
        }
      }
      return text;
    }

    const isAscii = (text: string): boolean => Array.from(text).every((c) => c.charCodeAt(0) < 0x80);
    const sameBits = (a: Float32Array, b: Float32Array): boolean =>
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
        Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      );

    /**
     * Encodes `text` both ways between guard columns; returns why they differ, or undefined. ASCII
     * text must take the fast path; any other must be refused with nothing written.
     */
    function compare(text: string, f: TextFeature): string | undefined {
      const at = 3;
      const fast = new Float32Array(f.buckets + 2 * at);
      const reference = new Float32Array(f.buckets + 2 * at);
      hashTextReference(text, f, reference, at);
      const taken = hashAsciiText(text, f, fast, at);
      if (taken !== isAscii(text)) return `fast path ${taken ? 'taken' : 'refused'}`;
      if (!taken) return fast.every((x) => x === 0) ? undefined : 'wrote before refusing';
      return sameBits(fast, reference) ? undefined : 'columns differ';
    }

    function mismatches(texts: readonly string[], features: readonly TextFeature[]): unknown[] {
      const found: unknown[] = [];
      texts.forEach((text, i) => {
        const f = features[i % features.length];
        const why = compare(text, f);
        if (why) found.push({ why, text, f });
      });
      return found;
    }

    it('encodes generated tickets bit for bit as the reference does, under every option', () => {
      const texts = generateTickets({ rows: 1_500, seed: 99 }).flatMap((t) => [t.subject, t.body]);
      // Nearly all ASCII (a few mention € or £, which the reference encodes).
      expect(texts.filter(isAscii).length).toBeGreaterThan(0.95 * texts.length);
      // The ticket router's own setup on every text, then every option combination in turn.
      const router: TextFeature = { name: 't', kind: 'text', buckets: 1024, ngrams: [1, 2] };
      expect(mismatches(texts, [router])).toEqual([]);
      expect(mismatches(texts, options)).toEqual([]);
    });

    it('encodes random ASCII text (punctuation, digits, control characters, whitespace runs) as the reference does', () => {
      const random = mulberry32(5);
      const texts = Array.from({ length: 6_000 }, () => randomText(random, false));
      texts.push(
        '',
        ' ',
        '   ',
        '\t\n',
        '.,;',
        'a',
        'A  B',
        ' lead',
        'trail ',
        '  both  ',
        'x'.repeat(100_000),
      );
      texts.push(Array.from({ length: 20_000 }, (_, i) => `w${i % 97}`).join(' \t '));
      expect(mismatches(texts, options)).toEqual([]);
    });

    it('refuses non-ASCII text, writing nothing, and the encoder falls back to the reference', () => {
      const random = mulberry32(6);
      const texts = Array.from({ length: 3_000 }, () => randomText(random, true));
      texts.push('Kelvin K', 'İstanbul', 'café', '\u00a0x', 'a\ud800b');
      expect(mismatches(texts, options)).toEqual([]);
      const p = compilePreprocessing(spec({ name: 't', kind: 'text', buckets: 64, ngrams: [1, 2] }));
      for (const text of ['Café Über straße', 'Kelvin K', 'ascii only, then 日本語']) {
        const reference = new Float32Array(64);
        hashTextReference(text, p.spec.features[0] as TextFeature, reference, 0);
        expect(
          sameBits(
            p.encode([{ t: text }], () => 'input'),
            reference,
          ),
        ).toBe(true);
      }
    });

    it('is what Preprocessor.encode runs for ASCII text', () => {
      const f: TextFeature = { name: 't', kind: 'text', buckets: 32, ngrams: [1, 3], norm: 'l2' };
      const p = compilePreprocessing(spec({ name: 'n', kind: 'numeric' }, f, { name: 'm', kind: 'numeric' }));
      const text = 'Refund my ORDER #123, please: refund it!';
      const row = p.encode([{ n: 1, t: text, m: 2 }], () => 'input');
      const reference = new Float32Array(34);
      reference[0] = 1;
      hashTextReference(text, f, reference, 1);
      reference[33] = 2;
      expect(sameBits(row, reference)).toBe(true);
    });
  });

  describe('several model inputs', () => {
    const spec = {
      version: 1,
      input: 'num',
      features: [
        { name: 'amount', kind: 'numeric' },
        { name: 'plan', kind: 'categorical', categories: ['free', 'pro'], input: 'cat' },
        { name: 'tenure', kind: 'numeric' },
      ],
    };

    it("groups each input's columns, in feature order within it", () => {
      const p = compilePreprocessing(spec);
      expect(p.inputs).toEqual([
        { name: 'num', offset: 0, width: 2, field: 'input' },
        { name: 'cat', offset: 2, width: 2, field: 'features.1.input' },
      ]);
      const rows = [
        { amount: 3, plan: 'pro', tenure: 7 },
        { amount: -1, plan: 'free', tenure: 2 },
      ];
      expect(Array.from(p.encode(rows, (i) => `inputs.${i}`))).toEqual([3, 7, 0, 1, -1, 2, 1, 0]);
    });

    it('keeps one input in feature order', () => {
      const p = compilePreprocessing({ ...spec, features: spec.features.map((f) => ({ ...f, input: 'x' })) });
      expect(p.inputs).toEqual([{ name: 'x', offset: 0, width: 4, field: 'features.0.input' }]);
      expect(Array.from(p.encode([{ amount: 3, plan: 'pro', tenure: 7 }], () => 'input'))).toEqual([
        3, 0, 1, 7,
      ]);
    });

    it('refuses a feature that names no input when others do and the spec names none', () => {
      const fails = (raw: unknown) => badInput(() => compilePreprocessing(raw)).field;
      expect(fails({ version: 1, features: spec.features })).toBe('preprocessing.features.0.input');
      expect(fails({ version: 1, features: [{ name: 'a', kind: 'numeric', input: '' }] })).toBe(
        'preprocessing.features.0.input',
      );
    });
  });

  describe('compilePreprocessing', () => {
    const fails = (raw: unknown) => badInput(() => compilePreprocessing(raw));
    const withFeature = (feature: Record<string, unknown>) => ({ version: 1, features: [feature] });

    it('rejects a bad envelope, naming the path', () => {
      expect(fails(null).field).toBe('preprocessing');
      expect(fails({ version: 2, features: [] }).field).toBe('preprocessing.version');
      expect(fails({ version: 1, features: [], extra: 1 }).field).toBe('preprocessing.extra');
      expect(fails({ version: 1, features: [] }).field).toBe('preprocessing.features');
      expect(fails({ version: 1, input: '', features: [{ name: 'a', kind: 'numeric' }] }).field).toBe(
        'preprocessing.input',
      );
      expect(badInput(() => compilePreprocessing({ version: 1 }, 'spec')).field).toBe('spec.features');
    });

    it('rejects bad features, naming the feature by index', () => {
      const twice = {
        version: 1,
        features: [
          { name: 'a', kind: 'numeric' },
          { name: 'a', kind: 'boolean' },
        ],
      };
      expect(fails(twice)).toEqual({
        field: 'preprocessing.features.1.name',
        message: expect.stringContaining('repeats "a"'),
      });
      expect(fails(withFeature({ name: ' ', kind: 'numeric' })).field).toBe('preprocessing.features.0.name');
      expect(fails(withFeature({ name: 'a', kind: 'image' })).field).toBe('preprocessing.features.0.kind');
      expect(fails(withFeature({ name: 'a', kind: 'numeric', buckets: 3 })).field).toBe(
        'preprocessing.features.0.buckets',
      );
      const std0 = withFeature({ name: 'a', kind: 'numeric', scale: { type: 'standard', mean: 0, std: 0 } });
      expect(fails(std0).field).toBe('preprocessing.features.0.scale.std');
      const minmax = withFeature({ name: 'a', kind: 'numeric', scale: { type: 'minmax', min: 1, max: 1 } });
      expect(fails(minmax).field).toBe('preprocessing.features.0.scale.max');
      expect(fails(withFeature({ name: 'a', kind: 'numeric', scale: { type: 'log' } })).field).toBe(
        'preprocessing.features.0.scale.type',
      );
      expect(fails(withFeature({ name: 'a', kind: 'numeric', clip: [2, 1] })).field).toBe(
        'preprocessing.features.0.clip',
      );
      expect(fails(withFeature({ name: 'a', kind: 'vector', length: 0 })).field).toBe(
        'preprocessing.features.0.length',
      );
      expect(fails(withFeature({ name: 'a', kind: 'categorical', categories: ['x', 'x'] })).field).toBe(
        'preprocessing.features.0.categories',
      );
      expect(
        fails(withFeature({ name: 'a', kind: 'categorical', categories: ['x'], unknown: 'drop' })).field,
      ).toBe('preprocessing.features.0.unknown');
      expect(fails(withFeature({ name: 'a', kind: 'text', buckets: 1.5 })).field).toBe(
        'preprocessing.features.0.buckets',
      );
      expect(fails(withFeature({ name: 'a', kind: 'text', buckets: 8, ngrams: [2, 1] })).field).toBe(
        'preprocessing.features.0.ngrams',
      );
      expect(fails(withFeature({ name: 'a', kind: 'text', buckets: 8, analyzer: 'sentence' })).field).toBe(
        'preprocessing.features.0.analyzer',
      );
      expect(fails(withFeature({ name: 'a', kind: 'text', buckets: 8, binary: 'yes' })).field).toBe(
        'preprocessing.features.0.binary',
      );
    });

    it('caps the row width', () => {
      const wide = {
        version: 1,
        features: [
          { name: 'a', kind: 'text', buckets: 1 << 20 },
          { name: 'b', kind: 'numeric' },
        ],
      };
      expect(fails(wide)).toEqual({
        field: 'preprocessing.features',
        message: expect.stringContaining('1048577'),
      });
    });

    it('keeps only the known options of a valid spec', () => {
      const p = compilePreprocessing({
        version: 1,
        input: 'features',
        features: [{ name: 'a', kind: 'text', buckets: 8, ngrams: [1, 2] }],
      });
      expect(p.spec).toEqual({
        version: 1,
        input: 'features',
        output: undefined,
        features: [
          {
            name: 'a',
            kind: 'text',
            buckets: 8,
            ngrams: [1, 2],
            analyzer: undefined,
            lowercase: undefined,
            norm: undefined,
            binary: undefined,
            default: undefined,
          },
        ],
      });
    });
  });
});
