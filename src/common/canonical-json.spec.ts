import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives one text for values equal but for their key order (jsonb reorders keys)', () => {
    const written = { name: 'x', tags: ['b', 'a'], at: { day: 1, month: 2 } };
    const readBack = { at: { month: 2, day: 1 }, tags: ['b', 'a'], name: 'x' };
    expect(canonicalJson(readBack)).toBe(canonicalJson(written));
  });

  it('orders keys by UTF-16 code unit, whatever the locale, integer-like keys first in numeric order', () => {
    // JSON.stringify enumerates integer-like keys first, ascending, whatever the order given; audit hashes,
    // idempotency request hashes and dataset digests are stored, so this order must not change.
    expect(canonicalJson({ a: 1, B: 2, é: 3, _: 4, '10': 5, '9': 6 })).toBe(
      '{"9":6,"10":5,"B":2,"_":4,"a":1,"é":3}',
    );
  });

  it('reads like JSON.stringify otherwise: undefined properties dropped, dates as ISO text', () => {
    expect(canonicalJson({ b: undefined, a: new Date('2024-01-02T03:04:05.000Z') })).toBe(
      '{"a":"2024-01-02T03:04:05.000Z"}',
    );
    expect(canonicalJson([1, 'two', true, null])).toBe('[1,"two",true,null]');
    expect(canonicalJson('text')).toBe('"text"');
  });
});
