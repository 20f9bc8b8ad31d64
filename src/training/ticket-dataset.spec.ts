import { parse } from 'csv-parse/sync';
import { mulberry32 } from '../common/random';
import { QUEUES, TICKET_COLUMNS, generateTickets, ticketFields, toCsv } from './ticket-dataset';

describe('ticket dataset', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(generateTickets({ rows: 200, seed: 7 })).toEqual(generateTickets({ rows: 200, seed: 7 }));
    expect(generateTickets({ rows: 200, seed: 8 })).not.toEqual(generateTickets({ rows: 200, seed: 7 }));
  });

  it('covers every queue in roughly the intended shares, with plausible fields', () => {
    const tickets = generateTickets({ rows: 3000, seed: 1 });
    const counts = Object.fromEntries(QUEUES.map((q) => [q, tickets.filter((t) => t.queue === q).length]));
    for (const q of QUEUES) {
      // The smallest queue (sales) is about 12% of the stream, the largest about 26%.
      expect(counts[q] / tickets.length).toBeGreaterThan(0.08);
      expect(counts[q] / tickets.length).toBeLessThan(0.32);
    }
    for (const t of tickets) {
      expect(t.subject.trim()).not.toBe('');
      expect(t.body.length).toBeGreaterThan(10);
      expect(Number.isInteger(t.account_age_days) && t.account_age_days >= 0).toBe(true);
      expect(Number.isInteger(t.prior_tickets) && t.prior_tickets >= 0).toBe(true);
      expect(t.attachments).toBeGreaterThanOrEqual(0);
      expect(t.attachments).toBeLessThanOrEqual(6);
    }
    expect(new Set(tickets.map((t) => t.channel))).toEqual(new Set(['email', 'chat', 'phone', 'web']));
    expect(new Set(tickets.map((t) => t.customer_tier))).toEqual(new Set(['free', 'pro', 'enterprise']));
  });

  it('leaves no template slot unfilled', () => {
    for (const t of generateTickets({ rows: 2000, seed: 3 })) {
      expect(`${t.subject} ${t.body}`).not.toMatch(/[{}[\]|]/);
    }
  });

  it('makes ticketFields drop only the label', () => {
    const [t] = generateTickets({ rows: 1, seed: 1 });
    const fields = ticketFields(t);
    expect(Object.keys(fields).sort()).toEqual(TICKET_COLUMNS.filter((c) => c !== 'queue').sort());
    expect({ ...fields, queue: t.queue }).toEqual(t);
  });

  it('writes RFC 4180 CSV that a CSV parser reads back unchanged', () => {
    const rows = [
      { a: 'plain', b: 'with, comma', c: 'with "quotes"' },
      { a: 'line\nbreak', b: '', c: 42 },
    ];
    const csv = toCsv(rows);
    expect(csv).toBe('a,b,c\r\nplain,"with, comma","with ""quotes"""\r\n"line\nbreak",,42\r\n');
    const tickets = generateTickets({ rows: 300, seed: 2 });
    const parsed = parse(toCsv(tickets, TICKET_COLUMNS), { columns: true }) as Array<Record<string, string>>;
    expect(parsed).toHaveLength(300);
    parsed.forEach((row, i) => {
      expect(row.body).toBe(tickets[i].body);
      expect(row.subject).toBe(tickets[i].subject);
      expect(Number(row.account_age_days)).toBe(tickets[i].account_age_days);
      expect(row.queue).toBe(tickets[i].queue);
    });
  });

  it('mulberry32 yields the same floats in [0, 1) for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const draws = Array.from({ length: 1000 }, () => a());
    expect(draws).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(draws).size).toBe(1000);
  });
});
