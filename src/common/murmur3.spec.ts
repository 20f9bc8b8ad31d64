import { mulberry32 } from './random';
import { murmur3, murmur3Bytes } from './murmur3';

/** The string implementation murmur3 had before murmur3Bytes, kept verbatim as the reference. */
function referenceMurmur3(text: string, seed = 0): number {
  const bytes = new TextEncoder().encode(text);
  const length = bytes.length;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail > 0) {
    let k = bytes[blocks];
    if (tail > 1) k ^= bytes[blocks + 1] << 8;
    if (tail > 2) k ^= bytes[blocks + 2] << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Code points from ASCII, Latin-1, CJK, astral planes, and lone surrogates. */
function randomText(random: () => number, maxLength: number): string {
  const ranges: Array<[number, number]> = [
    [0x00, 0x7f],
    [0x20, 0x7e],
    [0x80, 0x7ff],
    [0x4e00, 0x9fff],
    [0x1f300, 0x1faff],
    [0xd800, 0xdfff],
  ];
  const length = Math.floor(random() * (maxLength + 1));
  let text = '';
  for (let i = 0; i < length; i++) {
    const [lo, hi] = ranges[Math.floor(random() * ranges.length)];
    text += String.fromCodePoint(lo + Math.floor(random() * (hi - lo + 1)));
  }
  return text;
}

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3('aaaa', 0x9747b28c)).toBe(0x5a97808a);
    expect(murmur3('abc', 0x9747b28c)).toBe(0xc84a62dd);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    expect(murmur3('日本語')).not.toBe(murmur3('日本'));
    expect(murmur3('ü')).not.toBe(murmur3('u'));
  });

  it('gives what the string implementation gave, on thousands of random texts and seeds', () => {
    const random = mulberry32(7);
    const differ: Array<[string, number]> = [];
    for (let i = 0; i < 5_000; i++) {
      const text = randomText(random, i % 10 === 0 ? 300 : 24);
      const seed = i % 3 === 0 ? 0 : Math.floor(random() * 0x1_0000_0000);
      if (murmur3(text, seed) !== referenceMurmur3(text, seed)) differ.push([text, seed]);
    }
    expect(differ).toEqual([]);
  });
});

describe('murmur3Bytes', () => {
  it('hashes any slice of a buffer as murmur3 hashes that slice as a string', () => {
    const random = mulberry32(11);
    const encoder = new TextEncoder();
    const differ: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const points = Array.from(randomText(random, 40).replace(/[\ud800-\udfff]/g, 'x'));
      const a = Math.floor(random() * (points.length + 1));
      const b = a + Math.floor(random() * (points.length - a + 1));
      const bytes = encoder.encode(points.join(''));
      const start = encoder.encode(points.slice(0, a).join('')).length;
      const end = start + encoder.encode(points.slice(a, b).join('')).length;
      const slice = points.slice(a, b).join('');
      if (
        murmur3Bytes(bytes, start, end) !== referenceMurmur3(slice) ||
        murmur3Bytes(bytes, start, end, 0x5a3) !== referenceMurmur3(slice, 0x5a3)
      )
        differ.push(slice);
    }
    expect(differ).toEqual([]);
  });

  it('reads only its slice, whatever surrounds it', () => {
    const bytes = new TextEncoder().encode('xxhello world!!');
    expect(murmur3Bytes(bytes, 2, 7)).toBe(0x248bfa47);
    expect(murmur3Bytes(bytes, 2, 13)).toBe(murmur3('hello world'));
    expect(murmur3Bytes(bytes, 5, 5, 1)).toBe(0x514e28b7);
  });
});
