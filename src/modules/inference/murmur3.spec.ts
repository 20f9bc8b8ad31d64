import { murmur3 } from './murmur3';

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
});
