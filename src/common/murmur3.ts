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
  return murmur3Bytes(scratch, 0, encoder.encodeInto(text, scratch).written, seed);
}

/**
 * {@link murmur3} of `bytes[start, end)`: the same hash of bytes already in a buffer, so a caller
 * holding UTF-8 (or ASCII) text in one hashes any slice of it without making a string.
 */
export function murmur3Bytes(bytes: Uint8Array, start: number, end: number, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const length = end - start;
  let h = seed >>> 0;
  const blocks = start + (length & ~3);
  for (let i = start; i < blocks; i += 4) {
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
