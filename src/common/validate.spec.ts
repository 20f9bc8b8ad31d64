import { refuseUnstorable, requireIdSet, unstorable } from './validate';
import { fieldOf } from '../../test/support/field-of';

describe('refuseUnstorable', () => {
  it('names the path to a NUL or a lone surrogate, in values, list items and keys', () => {
    expect(fieldOf(() => refuseUnstorable('requestKey', 'a\u0000b'))).toBe('requestKey');
    expect(
      fieldOf(() =>
        refuseUnstorable('points', [
          { v: 1 },
          { dimensions: { region: 'eu' } },
          { dimensions: { region: 'x\ud800' } },
        ]),
      ),
    ).toBe('points.2.dimensions.region');
    expect(fieldOf(() => refuseUnstorable('input', { ok: { ['k\udc00']: 1 } }))).toBe('input.ok');
    expect(fieldOf(() => refuseUnstorable('at', new Date(0)))).toBeUndefined();
  });

  it('lets through surrogate pairs and everything else', () => {
    expect(unstorable('emoji \ud83d\ude00 and ü')).toBeUndefined();
    expect(unstorable('\ud83d')).toMatch(/unpaired/);
    expect(unstorable('\ude00\ud83d')).toMatch(/unpaired/);
    expect(
      fieldOf(() => refuseUnstorable('x', { a: [1, null, true, 'ok', { b: '\ud83d\ude00' }] })),
    ).toBeUndefined();
  });
});

describe('requireIdSet', () => {
  const id = '0b7e2c1e-8a51-4d0e-9c3a-2f1d9b1a5e77';
  it('drops repeats, whatever their case, and names a bad item by index', () => {
    expect(requireIdSet('projectIds', [id, id.toUpperCase(), id], 1)).toEqual([id]);
    expect(fieldOf(() => requireIdSet('projectIds', [id, 'nope'], 5))).toBe('projectIds.1');
  });
  it('refuses more distinct ids than the maximum', () => {
    const other = id.replace('0b7e', '1b7e');
    expect(fieldOf(() => requireIdSet('inputs', [id, other], 1))).toBe('inputs');
  });
});
