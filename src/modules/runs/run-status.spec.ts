import type { DomainError } from '../../common/errors';
import { RunStatus } from './run.entity';
import { acceptsMetrics, assertTransition, isTerminal } from './run-status';

const conflictOf = (fn: () => void): { code: string; field: unknown } | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return { code: (error as DomainError).code, field: (error as DomainError).extensions.field };
  }
};

describe('run status transitions', () => {
  const all = Object.values(RunStatus);
  const allowed = new Set([
    'QUEUED>RUNNING',
    'QUEUED>CANCELLED',
    'RUNNING>SUCCEEDED',
    'RUNNING>FAILED',
    'RUNNING>CANCELLED',
  ]);

  it.each(all.flatMap((from) => all.map((to) => [from, to] as const)))('%s -> %s', (from, to) => {
    const outcome = conflictOf(() => assertTransition(from, to));
    if (allowed.has(`${from}>${to}`)) expect(outcome).toBeUndefined();
    else expect(outcome).toEqual({ code: 'CONFLICT', field: 'status' });
  });

  it('knows the terminal statuses and which runs take metrics', () => {
    expect(all.filter(isTerminal)).toEqual([RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]);
    expect(all.filter(acceptsMetrics)).toEqual([RunStatus.QUEUED, RunStatus.RUNNING]);
  });
});
