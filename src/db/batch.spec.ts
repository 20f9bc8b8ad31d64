import { writeIsolating } from './batch';

const refused = (message: string, code?: string): Error => Object.assign(new Error(message), { code });

describe('writeIsolating', () => {
  it('writes every row but the refused ones, in order, and reports each refused row alone', async () => {
    const written: number[][] = [];
    const settled: Array<[number[], string?]> = [];
    const rows = [1, 2, 3, 4, 5, 6, 7];
    await writeIsolating(
      rows,
      async (part) => {
        if (part.includes(3) || part.includes(6))
          throw refused('unsupported Unicode escape sequence', '22P05');
        written.push([...part]);
      },
      (part, error) => settled.push([[...part], (error as Error | undefined)?.message]),
    );
    expect(written.flat()).toEqual([1, 2, 4, 5, 7]);
    expect(settled.map(([part]) => part).flat()).toEqual(rows);
    expect(settled.filter(([, error]) => error)).toEqual([
      [[3], 'unsupported Unicode escape sequence'],
      [[6], 'unsupported Unicode escape sequence'],
    ]);
  });

  it('throws a lost connection without splitting, leaving the unsettled rows to the caller', async () => {
    const settled: number[] = [];
    let calls = 0;
    const attempt = writeIsolating(
      [1, 2, 3, 4],
      async (part) => {
        calls++;
        if (part.length === 4) throw refused('row 3 refused', '23514');
        if (part.includes(3)) throw refused('terminating connection due to administrator command', '57P01');
      },
      (part) => settled.push(...part),
    );
    await expect(attempt).rejects.toThrow('administrator command');
    expect(settled).toEqual([1, 2]);
    expect(calls).toBe(3);
  });

  it.each([
    ['a serialization failure', refused('could not serialize access', '40001')],
    ['a full disk', refused('could not extend file', '53100')],
    ['a broken socket', refused('read ECONNRESET', 'ECONNRESET')],
    ['a connection that ended', new Error('Connection terminated unexpectedly')],
  ])('retries the whole batch after %s', async (_what, error) => {
    const settle = jest.fn();
    await expect(writeIsolating([1, 2], () => Promise.reject(error), settle)).rejects.toBe(error);
    expect(settle).not.toHaveBeenCalled();
  });
});
