const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/**
 * MurmurHash3 (x86, 32-bit) of the UTF-8 bytes of `text`, unsigned: the hash scikit-learn's
 * HashingVectorizer uses. Nerve's bucket is this unsigned value modulo the bucket count (scikit-learn
 * takes the absolute value of the signed hash and alternates signs), so a pipeline outside Nerve
 * reproduces hashed features by taking `murmurhash3_32(token, positive=True) % buckets`.
 */
export function murmur3(text: string, seed = 0): number {
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3);
  const length = encoder.encodeInto(text, scratch).written;
  const bytes = scratch;
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
