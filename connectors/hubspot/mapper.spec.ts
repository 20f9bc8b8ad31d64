import { ConnectorError } from '../_shared/errors';
import { amount, date, flag, mapContact, mapDeal, text } from './mapper';

const options = { requestKeyProperty: 'nerve_request_key' };

function deal(properties: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    id: '42',
    properties: { hs_lastmodifieddate: '2024-03-01T10:00:00.000Z', ...properties },
    createdAt: '2024-01-05T00:00:00.000Z',
    updatedAt: '2024-03-01T10:00:00.000Z',
    archived: false,
    ...extra,
  };
}

describe('HubSpot mapper', () => {
  it('reads HubSpot property strings as numbers, dates and booleans, and refuses other shapes', () => {
    expect(amount('1250.50')).toBe(1250.5);
    expect(amount('-3')).toBe(-3);
    expect(amount('n/a')).toBeNull();
    expect(amount('1,000')).toBeNull();
    expect(amount('')).toBeNull();
    expect(amount(null)).toBeNull();
    expect(date('2024-03-01T10:00:00.000Z')?.toISOString()).toBe('2024-03-01T10:00:00.000Z');
    expect(date('2024-03-01')?.toISOString()).toBe('2024-03-01T00:00:00.000Z');
    expect(date('1709287200000')?.toISOString()).toBe('2024-03-01T10:00:00.000Z');
    expect(date('last tuesday')).toBeNull();
    expect(date('2024-13-45T99:00:00Z')).toBeNull();
    expect(date({})).toBeNull();
    expect(flag('true')).toBe(true);
    expect(flag('false')).toBe(false);
    expect(flag('yes')).toBeNull();
    expect(text('')).toBeNull();
    expect(text(7)).toBe('7');
    expect(text({ nested: true })).toBeNull();
  });

  it('maps a closed-won deal, keeping the vendor object whole in raw', () => {
    const object = deal({
      dealname: 'Big one',
      pipeline: 'default',
      dealstage: 'closedwon',
      amount: '1250.50',
      closedate: '2024-02-20T00:00:00.000Z',
      hs_is_closed: 'true',
      hs_is_closed_won: 'true',
      createdate: '2024-01-05T00:00:00.000Z',
      nerve_request_key: 'req-1',
    });
    expect(mapDeal(object, options)).toEqual({
      kind: 'crm_deal',
      externalId: '42',
      updatedAt: new Date('2024-03-01T10:00:00.000Z'),
      requestKey: 'req-1',
      raw: object,
      name: 'Big one',
      pipeline: 'default',
      stage: 'closedwon',
      amount: 1250.5,
      won: true,
      closedAt: new Date('2024-02-20T00:00:00.000Z'),
      createdAt: new Date('2024-01-05T00:00:00.000Z'),
    });
  });

  it('says nothing about winning or closing while a deal is open (closedate is then only expected)', () => {
    const open = mapDeal(
      deal({ hs_is_closed: 'false', hs_is_closed_won: 'false', closedate: '2024-05-01T00:00:00.000Z' }),
      options,
    );
    expect(open.won).toBeNull();
    expect(open.closedAt).toBeNull();
    const lost = mapDeal(deal({ hs_is_closed: 'true', hs_is_closed_won: 'false' }), options);
    expect(lost.won).toBe(false);
    // A won deal is closed even when hs_is_closed is missing; a "not won" one without it may be open.
    expect(mapDeal(deal({ hs_is_closed_won: 'true' }), options).won).toBe(true);
    expect(mapDeal(deal({ hs_is_closed_won: 'false' }), options).won).toBeNull();
  });

  it('turns missing and ill-shaped properties into null, falling back to the object dates', () => {
    const object = {
      id: '7',
      properties: { email: ['not', 'a', 'string'], createdate: 'garbage', surprise: 'kept in raw' },
      createdAt: '2024-01-02T00:00:00.000Z',
      updatedAt: '2024-01-03T00:00:00.000Z',
    };
    const contact = mapContact(object, options);
    expect(contact).toMatchObject({
      externalId: '7',
      email: null,
      firstName: null,
      lastName: null,
      company: null,
      lifecycleStage: null,
      requestKey: null,
      createdAt: new Date('2024-01-02T00:00:00.000Z'),
      updatedAt: new Date('2024-01-03T00:00:00.000Z'),
    });
    expect(contact.raw).toBe(object);
    expect(
      mapContact({ id: '8', properties: null, updatedAt: '2024-01-03T00:00:00.000Z' }, options),
    ).toMatchObject({ email: null, createdAt: new Date('2024-01-03T00:00:00.000Z') });
  });

  it('refuses, PERMANENTLY and by id, a record that cannot be placed in time', () => {
    let error: unknown;
    try {
      mapContact({ id: '9', properties: { email: 'a@b.c' } }, options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error).toMatchObject({ kind: 'PERMANENT', message: expect.stringContaining('record 9') });
  });
});
