import { ConnectorError } from '../_shared';
import { indexMetricSets, mapTicket } from './mapper';

const mapping = { routingFieldId: 11, requestKeyFieldId: 12 };

const ticket = {
  id: 35436,
  url: 'https://acme.zendesk.com/api/v2/tickets/35436.json',
  via: { channel: 'Email', source: {} },
  created_at: '2024-01-02T10:00:00Z',
  updated_at: '2024-01-03T11:30:00Z',
  subject: 'Help, my printer is on fire!',
  priority: 'high',
  status: 'Open',
  requester_id: 20978392,
  assignee_id: 235323,
  group_id: 98738,
  tags: ['enterprise', 'printer'],
  custom_fields: [
    { id: 11, value: 'hardware' },
    { id: 12, value: 'req-9' },
    { id: 13, value: 'ignored' },
  ],
  satisfaction_rating: { score: 'good' },
};

const metricSet = {
  id: 33,
  ticket_id: 35436,
  replies: 3,
  reopens: 1,
  solved_at: '2024-01-03T11:00:00Z',
  full_resolution_time_in_minutes: { calendar: 2940, business: 737 },
};

describe('mapTicket', () => {
  it('maps a Zendesk ticket and its metric set', () => {
    const record = mapTicket(ticket, 'ticket 0', mapping, metricSet);
    expect(record).toEqual({
      kind: 'ticket',
      externalId: '35436',
      updatedAt: new Date('2024-01-03T11:30:00Z'),
      createdAt: new Date('2024-01-02T10:00:00Z'),
      requestKey: 'req-9',
      raw: { ...ticket, metric_set: metricSet },
      subject: 'Help, my printer is on fire!',
      status: 'open',
      priority: 'high',
      channel: 'email',
      requesterId: '20978392',
      assigneeId: '235323',
      groupId: '98738',
      tags: ['enterprise', 'printer'],
      routing: 'hardware',
      solvedAt: new Date('2024-01-03T11:00:00Z'),
      replies: 3,
      reopens: 1,
    });
  });

  it('gives null for missing and wrong-shaped values and keeps unknown fields only in raw', () => {
    const odd = {
      id: 7,
      status: 'deleted',
      updated_at: 'not a date',
      generated_timestamp: 1_700_000_000,
      subject: 42,
      priority: null,
      via: 'email',
      requester_id: { id: 1 },
      assignee_id: -3,
      tags: 'a b',
      custom_fields: [{ id: 11, value: { name: 'x' } }, 'junk', { id: 12, value: 99 }],
      brand_new: true,
    };
    const record = mapTicket(odd, 'ticket 1', mapping, {
      ticket_id: 7,
      replies: '3',
      reopens: -1,
      solved_at: 5,
    });
    expect(record).toMatchObject({
      externalId: '7',
      status: 'deleted',
      updatedAt: new Date(1_700_000_000_000),
      createdAt: new Date(1_700_000_000_000),
      subject: null,
      priority: null,
      channel: null,
      requesterId: null,
      assigneeId: null,
      groupId: null,
      tags: [],
      routing: null,
      requestKey: '99',
      solvedAt: null,
      replies: null,
      reopens: null,
    });
    expect(record.raw.brand_new).toBe(true);
    expect(record).not.toHaveProperty('brand_new');

    const bare = mapTicket({ id: '8' }, 'ticket 2', {});
    expect(bare).toMatchObject({
      externalId: '8',
      status: 'unknown',
      updatedAt: new Date(0),
      tags: [],
      replies: null,
    });
  });

  it.each([[{ subject: 'no id' }], [{ id: null }], [{ id: 0 }], [null], ['35436']])(
    'refuses a ticket without an id (%j), naming where it was',
    (raw) => {
      let error: unknown;
      try {
        mapTicket(raw, 'export: ticket 4 of the page after cursor abc', mapping);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConnectorError);
      expect(error).toMatchObject({
        kind: 'PERMANENT',
        message: 'Zendesk export: ticket 4 of the page after cursor abc has no id',
      });
    },
  );

  it('indexes metric sets by ticket id, skipping unusable entries', () => {
    const index = indexMetricSets([metricSet, { ticket_id: null }, 'junk', { ticket_id: '5', replies: 1 }]);
    expect([...index.keys()]).toEqual(['35436', '5']);
  });
});
