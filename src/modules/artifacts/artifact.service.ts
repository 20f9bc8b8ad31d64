import type { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import {
  BadInputError,
  DomainError,
  ErrorCode,
  NotFoundError,
  PayloadTooLargeError,
} from '../../common/errors';
import { requireSha256 } from '../../common/validate';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { RequestContext } from '../../context/context';
import type { ProjectService } from '../projects/project.service';
import { Artifact, ArtifactGrant } from './artifact.entity';
import type { ArtifactStore } from './artifact-store';
import type { Platform } from '../../platform/platform';

export interface ArtifactServiceDeps extends Pick<Platform, 'db' | 'work'> {
  store: ArtifactStore;
  maxBytes: number;
  projects: ProjectService;
}

/**
 * Binary artifacts: blobs in the store (one file per content, whichever projects hold it), a row per
 * blob in the database so every replica knows of it, and a grant per project that uploaded it. Reads
 * and registrations go through the grants, so a hash learnt elsewhere opens nothing, and an upload's
 * answer speaks only of the caller's project.
 */
export class ArtifactService {
  private readonly db: DataSource;
  readonly store: ArtifactStore;
  private readonly maxBytes: number;
  private readonly projects: ProjectService;
  private readonly work: UnitOfWork;

  constructor(deps: ArtifactServiceDeps) {
    this.db = deps.db;
    this.store = deps.store;
    this.maxBytes = deps.maxBytes;
    this.projects = deps.projects;
    this.work = deps.work;
  }

  /** `created`: the grant is new for this project (whether or not another project held the bytes). */
  async upload(
    ctx: RequestContext,
    sha256: string,
    projectRef: string | null | undefined,
    body: Readable,
    declaredSize?: number,
  ): Promise<Artifact & { created: boolean }> {
    ctx.authorize('create', 'Artifact');
    const hex = requireSha256('sha256', sha256);
    if (!projectRef?.trim())
      throw new BadInputError('project', 'name the project: PUT /artifacts/sha256/<hex>?project=<slug>');
    const project = await this.projects.resolve(ctx, projectRef.trim(), 'Artifact');
    ctx.authorize('create', 'Artifact', project.id);
    if (declaredSize !== undefined && declaredSize > this.maxBytes) {
      throw new PayloadTooLargeError(this.maxBytes);
    }
    const blob = await this.store.put(hex, body, this.maxBytes);
    return this.work.run(ctx, async (tx) => {
      const { manager } = tx;
      await manager
        .createQueryBuilder()
        .insert()
        .into(Artifact)
        .values({ sha256: blob.sha256, size: blob.size, createdByKeyId: ctx.caller.keyId })
        .orIgnore()
        .execute();
      const granted = await manager
        .createQueryBuilder()
        .insert()
        .into(ArtifactGrant)
        .values({ sha256: blob.sha256, projectId: project.id, grantedByKeyId: ctx.caller.keyId })
        .orIgnore()
        .returning(['sha256'])
        .execute();
      const row = await manager.getRepository(Artifact).findOneByOrFail({ sha256: blob.sha256 });
      return Object.assign(row, { created: granted.raw.length > 0 });
    });
  }

  /** The bytes, to a caller who can read a project holding the artifact; NOT_FOUND to anyone else. */
  async download(ctx: RequestContext, sha256: string): Promise<{ stream: Readable; size: number }> {
    ctx.authorize('read', 'Artifact');
    const hex = requireSha256('sha256', sha256);
    const grants = await this.db.getRepository(ArtifactGrant).findBy({ sha256: hex });
    const readable = grants.some(
      (g) => ctx.can('read', 'Project', g.projectId) && ctx.can('read', 'Artifact', g.projectId),
    );
    const opened = readable ? await this.store.open(hex) : undefined;
    if (!opened) throw new NotFoundError('Artifact', hex);
    return opened;
  }

  /**
   * The artifact row and the path of its blob, when `projectId` holds a grant for it; else NOT_FOUND
   * naming `field` (the same whether the bytes are elsewhere or nowhere).
   */
  async locate(
    projectId: string,
    sha256: string,
    field: string,
  ): Promise<{ artifact: Artifact; path: string }> {
    const hex = requireSha256(field, sha256);
    const granted = await this.db.getRepository(ArtifactGrant).existsBy({ sha256: hex, projectId });
    const artifact = granted ? await this.db.getRepository(Artifact).findOneBy({ sha256: hex }) : null;
    if (!artifact || !(await this.store.has(hex))) {
      throw new DomainError(
        ErrorCode.NOT_FOUND,
        `artifact ${hex} not found in this project (${field}); upload it with PUT /artifacts/sha256/${hex}?project=<slug>`,
        { field },
      );
    }
    return { artifact, path: this.store.pathOf(hex) };
  }
}
