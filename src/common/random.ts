/**
 * mulberry32: a small, fast, deterministic 32-bit PRNG returning floats in [0, 1). Ample for sampling,
 * shuffling and generated data; not for anything secret.
 */
export function mulberry32(seed: number): () => number {
  // A local binding: jest's sandbox makes every global Math lookup costly.
  const { imul } = Math;
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
