import { alreadyApplied } from './client';

describe('alreadyApplied (an update whose earlier attempt may have landed)', () => {
  const ticket = {
    id: 7,
    subject: 'Refund',
    status: 'open',
    priority: 'high',
    tags: ['vip', 'billing'],
    custom_fields: [
      { id: 360001, value: 'billing' },
      { id: 360002, value: '7' },
    ],
  };

  it('is done when every field written already shows, tags in any order', () => {
    expect(
      alreadyApplied(ticket, {
        status: 'open',
        tags: ['billing', 'vip'],
        custom_fields: [
          { id: 360001, value: 'billing' },
          { id: 360002, value: '7' },
        ],
      }),
    ).toBe(true);
  });

  it('is not done when a field differs or is missing, or when the write adds a comment', () => {
    expect(alreadyApplied(ticket, { custom_fields: [{ id: 360001, value: 'tech' }] })).toBe(false);
    expect(alreadyApplied(ticket, { custom_fields: [{ id: 360003, value: 'x' }] })).toBe(false);
    expect(alreadyApplied(ticket, { status: 'solved' })).toBe(false);
    expect(alreadyApplied(ticket, { tags: ['vip'] })).toBe(false);
    expect(alreadyApplied(ticket, { status: 'open', comment: { body: 'again?' } })).toBe(false);
  });
});
