import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { BadInputError, PayloadTooLargeError } from '../../common/errors';

export interface StoredBlob {
  sha256: string;
  size: number;
  /** False when the store already held this content. */
  created: boolean;
}

/**
 * Content-addressed blobs on local disk: `<root>/sha256/<2 hex>/<64 hex>`. Uploads stream to a temp
 * file while hashed, and only a verified file is renamed into place, so a reader never sees a partial
 * blob and a retried upload is harmless.
 */
export class ArtifactStore {
  private readonly tmp: string;

  constructor(readonly root: string) {
    this.tmp = path.join(root, 'tmp');
    fs.mkdirSync(this.tmp, { recursive: true });
  }

  pathOf(sha256: string): string {
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return fs.promises.access(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  async put(expected: string, body: Readable, maxBytes: number): Promise<StoredBlob> {
    const tmpPath = path.join(this.tmp, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new PayloadTooLargeError(maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, fs.createWriteStream(tmpPath, { flags: 'wx' }));
      const actual = hash.digest('hex');
      if (actual !== expected) {
        throw new BadInputError('sha256', `content hashes to ${actual}, not ${expected}`);
      }
      const finalPath = this.pathOf(actual);
      if (await this.has(actual)) return { sha256: actual, size, created: false };
      await fs.promises.mkdir(path.dirname(finalPath), { recursive: true });
      await fs.promises.rename(tmpPath, finalPath);
      return { sha256: actual, size, created: true };
    } finally {
      await fs.promises.rm(tmpPath, { force: true });
    }
  }

  /** A read stream and the size, or undefined when the blob is not stored. */
  async open(sha256: string): Promise<{ stream: fs.ReadStream; size: number } | undefined> {
    const file = this.pathOf(sha256);
    const stat = await fs.promises.stat(file).catch(() => undefined);
    if (!stat) return undefined;
    return { stream: fs.createReadStream(file), size: stat.size };
  }
}
