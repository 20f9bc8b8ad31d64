import type http from 'node:http';
import { createServer } from 'node:http';
import { FaultInjector } from './faults';
import { closeServer, listenOnLoopback } from './loopback';

/** A refusal a fake answers with its vendor's error body. */
export class FakeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: http.OutgoingHttpHeaders = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** Answers JSON. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The whole request body. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A JSON body, or `invalid(message)` thrown when it is not JSON. */
export function parseJsonBody(body: Buffer, invalid: (message: string) => FakeHttpError): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('the request body is not JSON');
  }
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A lost reply: the work is done, the connection dropped before the answer. */
export function dropConnection(res: http.ServerResponse): void {
  res.socket?.destroy();
}

/**
 * A vendor fake's HTTP server on 127.0.0.1: its fault knobs, the requests it holds hanging, and starting
 * and stopping. A fake answers in `handle`, in its vendor's wire format.
 */
export abstract class FakeHttpServer {
  /** Consulted on every request the fake routes, before auth: 429s, 5xx, hangs, resets, garbled bodies. */
  readonly faults = new FaultInjector();
  /** Requests a `hang` fault holds open, destroyed on close. */
  protected readonly hung = new Set<http.ServerResponse>();
  private readonly server = createServer((req, res) => void this.handle(req, res));

  protected abstract handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;

  /** Listens on an ephemeral port of 127.0.0.1; resolves to the base URL. */
  async start(): Promise<string> {
    return listenOnLoopback(this.server);
  }

  /** Stops listening and destroys every socket, hanging requests included. */
  async close(): Promise<void> {
    await closeServer(this.server, this.hung);
  }
}
