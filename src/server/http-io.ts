import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DataSource } from 'typeorm';
import { PayloadTooLargeError } from '../common/errors';

/** The plain HTTP side of the hub: headers, bodies, replies and readiness, without routing or GraphQL. */

/** A request header's (first) value. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Tells a client waiting on `Expect: 100-continue` to send its body: the request passed every check on its headers. */
export function invite(req: IncomingMessage, res: ServerResponse): void {
  if (/100-continue/i.test(header(req, 'expect') ?? '') && !res.headersSent) res.writeContinue();
}

/** A client-supplied request id when it is short and plain, else a fresh one. */
export function validRequestId(requestId: string | undefined): string {
  return requestId && /^[\w-]{1,64}$/.test(requestId) ? requestId : randomUUID();
}

/** A whole reply: plain text for a string, JSON for anything else. */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * The request body, up to `limit` bytes. Read with events rather than `for await`: the async iterator
 * destroys the request when it finishes, which costs a slower write path for the response.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      reject(new PayloadTooLargeError(limit));
      return;
    }
    invite(req, res);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}

/** Ready when the database answers and every migration this build knows is applied. */
export async function readiness(
  db: DataSource,
  shuttingDown: boolean,
): Promise<{ ok: boolean; checks: Record<string, string> }> {
  if (shuttingDown) return { ok: false, checks: { server: 'shutting down' } };
  try {
    const pending = await withTimeout(db.showMigrations(), 2_000);
    return { ok: !pending, checks: { database: 'ok', migrations: pending ? 'pending' : 'ok' } };
  } catch {
    return { ok: false, checks: { database: 'unreachable' } };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), ms);
    }),
  ]);
}
