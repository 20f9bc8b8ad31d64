import { ConflictError } from '../../common/errors';
import { RunStatus } from './run.entity';

/** Where each status may go next; terminal statuses map to nothing. */
const NEXT: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  [RunStatus.QUEUED]: [RunStatus.RUNNING, RunStatus.CANCELLED],
  [RunStatus.RUNNING]: [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED],
  [RunStatus.SUCCEEDED]: [],
  [RunStatus.FAILED]: [],
  [RunStatus.CANCELLED]: [],
};

/** Whether a run in `status` is finished for good. */
export function isTerminal(status: RunStatus): boolean {
  return NEXT[status].length === 0;
}

/** Whether a run in `status` still accepts metric points. */
export function acceptsMetrics(status: RunStatus): boolean {
  return status === RunStatus.RUNNING || status === RunStatus.QUEUED;
}

/** Throws CONFLICT (field `status`) unless a run may move from `from` to `to`. */
export function assertTransition(from: RunStatus, to: RunStatus): void {
  if (isTerminal(from))
    throw new ConflictError(`run is already ${from}; a finished run cannot change`, 'status');
  if (!NEXT[from].includes(to)) {
    throw new ConflictError(
      `a ${from} run cannot become ${to} (allowed: ${NEXT[from].join(', ')})`,
      'status',
    );
  }
}
