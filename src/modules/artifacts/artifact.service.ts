import type { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { NotFoundError, PayloadTooLargeError } from '../../common/errors';
import { requireSha256 } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import { Artifact } from './artifact.entity';
import type { ArtifactStore } from './artifact-store';

/** Binary artifacts: blobs in the store, a row per blob in the database so every replica knows of it. */
export class ArtifactService {
  constructor(
    private readonly db: DataSource,
    readonly store: ArtifactStore,
    private readonly maxBytes: number,
  ) {}

  async upload(
    ctx: RequestContext,
    sha256: string,
    body: Readable,
    declaredSize?: number,
  ): Promise<Artifact & { created: boolean }> {
    ctx.authorize('create', 'Artifact');
    const hex = requireSha256('sha256', sha256);
    if (declaredSize !== undefined && declaredSize > this.maxBytes) {
      throw new PayloadTooLargeError(this.maxBytes);
    }
    const blob = await this.store.put(hex, body, this.maxBytes);
    await this.db
      .createQueryBuilder()
      .insert()
      .into(Artifact)
      .values({ sha256: blob.sha256, size: blob.size, createdByKeyId: ctx.caller.keyId })
      .orIgnore()
      .execute();
    const row = await this.db.getRepository(Artifact).findOneByOrFail({ sha256: blob.sha256 });
    return Object.assign(row, { created: blob.created });
  }

  async download(ctx: RequestContext, sha256: string): Promise<{ stream: Readable; size: number }> {
    ctx.authorize('read', 'Artifact');
    const hex = requireSha256('sha256', sha256);
    const opened = await this.store.open(hex);
    if (!opened) throw new NotFoundError('Artifact', hex);
    return opened;
  }

  /** The artifact row and the path of its blob, or NOT_FOUND naming `field`. */
  async locate(sha256: string, field: string): Promise<{ artifact: Artifact; path: string }> {
    const hex = requireSha256(field, sha256);
    const artifact = await this.db.getRepository(Artifact).findOneBy({ sha256: hex });
    if (!artifact || !(await this.store.has(hex))) {
      throw new NotFoundError(
        'Artifact',
        `${hex} (${field}); upload it first with PUT /artifacts/sha256/${hex}`,
      );
    }
    return { artifact, path: this.store.pathOf(hex) };
  }
}
