import { permanent } from '../_shared';
import type { Page, StreamState } from '../_shared';
import type { ZendeskClient } from './client';
import { indexMetricSets, mapTicket, ticketId } from './mapper';
import type { TicketMapping } from './mapper';

/** The connector's one stream. */
export const TICKETS = 'tickets';

/**
 * The `tickets` stream's position: Zendesk's `after_cursor` once there is one, else the start time of the
 * first export. At end of stream the last cursor is kept, so the next sync asks only for what changed since.
 */
export interface TicketStreamState {
  cursor: string | null;
  startTime: number;
}

/** A stored state read back defensively; anything unusable falls back to the configured start time. */
export function ticketState(state: StreamState | null, defaultStartTime: number): TicketStreamState {
  const cursor = typeof state?.cursor === 'string' && state.cursor !== '' ? state.cursor : null;
  const stored = state?.startTime;
  const startTime =
    typeof stored === 'number' && Number.isInteger(stored) && stored >= 0 ? stored : defaultStartTime;
  return { cursor, startTime };
}

/**
 * Reads tickets with the cursor-based incremental export, one page per request, each page's state being
 * the position after it. Stops at `end_of_stream`; tickets changed while it reads come back later in the
 * same export (their `updated_at` moves them behind the cursor), or in the next sync.
 */
export async function* readTickets(
  client: ZendeskClient,
  mapping: TicketMapping,
  perPage: number,
  from: TicketStreamState,
): AsyncGenerator<Page> {
  let position = from;
  for (;;) {
    const page = await client.exportTickets(position, perPage);
    if (!page.endOfStream && page.tickets.length === 0 && page.afterCursor === position.cursor)
      throw permanent(`Zendesk export tickets: the export does not advance past cursor ${position.cursor}`);
    const metrics = indexMetricSets(page.metricSets);
    const origin =
      position.cursor === null ? `start_time ${position.startTime}` : `cursor ${position.cursor}`;
    const records = page.tickets.map((raw, index) => {
      const id = ticketId(raw);
      const where = `export: ticket ${index} of the page after ${origin}`;
      return mapTicket(raw, where, mapping, id === null ? undefined : metrics.get(id));
    });
    // An empty export from a start time has no cursor: keep asking from the same start time.
    position = { cursor: page.afterCursor ?? position.cursor, startTime: position.startTime };
    yield { records, state: { ...position } };
    if (page.endOfStream) return;
  }
}
