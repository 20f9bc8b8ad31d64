import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { RequestContext } from '../context/context';
import type { ArtifactService } from '../modules/artifacts/artifact.service';
import { header, invite, send } from './http-io';

/** The path of a content-addressed artifact: `/artifacts/sha256/<hex>`. */
export const ARTIFACT_PATH = /^\/artifacts\/sha256\/([^/]+)$/;

/**
 * `PUT` (upload, hash verified, idempotent: 201 when new, 200 when already there), `GET` and `HEAD` of
 * one artifact, for a caller already authenticated and admitted.
 */
export async function serveArtifact(
  artifacts: ArtifactService,
  ctx: RequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  sha256: string,
  query: URLSearchParams,
): Promise<void> {
  if (req.method === 'PUT') {
    const length = header(req, 'content-length');
    invite(req, res);
    const project = query.get('project');
    const stored = await artifacts.upload(ctx, sha256, project, req, length ? Number(length) : undefined);
    send(res, stored.created ? 201 : 200, { sha256: stored.sha256, size: stored.size });
    return;
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    const { stream, size } = await artifacts.download(ctx, sha256);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': size,
      etag: `"${sha256.toLowerCase()}"`,
      'cache-control': 'private, max-age=31536000, immutable',
    });
    if (req.method === 'HEAD') {
      stream.destroy();
      res.end();
      return;
    }
    // A read error mid-body (the file vanished, the disk failed) can only cut the response short.
    await pipeline(stream, res).catch(() => res.destroy());
    return;
  }
  send(res, 405, { errors: [{ message: 'use PUT or GET' }] }, { allow: 'GET, HEAD, PUT' });
}
