import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult, type PageArgs } from '../../common/pagination';
import { isUuid, requireSlug, requireText } from '../../common/validate';
import type { Subject } from '../../auth/abilities';
import type { RequestContext } from '../../context/context';
import type { UnitOfWork } from '../../platform/unit-of-work';
import { Project, RiskLevel } from './project.entity';
import { ProjectLoaders } from './project.loaders';
import type { CreateProjectInput } from './project.types';
import type { Platform } from '../../platform/platform';

export type ProjectServiceDeps = Pick<Platform, 'db' | 'work'>;

export class ProjectService {
  private readonly loaders: ProjectLoaders;

  private readonly db: DataSource;
  private readonly work: UnitOfWork;

  constructor(deps: ProjectServiceDeps) {
    this.db = deps.db;
    this.work = deps.work;
    this.loaders = new ProjectLoaders(deps.db);
  }

  async create(ctx: RequestContext, input: CreateProjectInput): Promise<Project> {
    // Checked against the new project's own id: a project-scoped key's scope never contains it.
    const id = randomUUID();
    ctx.authorize('create', 'Project', id);
    const repo = this.db.getRepository(Project);
    const project = repo.create({
      id,
      slug: requireSlug('slug', input.slug),
      name: requireText('name', input.name),
      description: input.description?.trim() ? requireText('description', input.description, 10_000) : null,
      riskLevel: input.riskLevel ?? RiskLevel.MINIMAL,
    });
    const creating = { operation: 'createProject', key: input.idempotencyKey, args: input };
    return this.work.create(ctx, { ...creating, entity: Project }, async (tx) => {
      await tx.manager.getRepository(Project).insert(project);
      tx.audit({
        action: 'createProject',
        subjectType: 'Project',
        subjectId: project.id,
        projectId: project.id,
        after: { slug: project.slug, name: project.name, riskLevel: project.riskLevel },
      });
      tx.emit({
        type: 'project.created',
        stream: `project:${project.id}`,
        projectId: project.id,
        payload: { projectId: project.id, slug: project.slug, name: project.name },
      });
      return project;
    });
  }

  async list(ctx: RequestContext, page: PageArgs): Promise<ConnectionResult<Project>> {
    const scope = ctx.readableProjects('Project');
    const qb = this.db.getRepository(Project).createQueryBuilder('p');
    if (scope) qb.where('p.id = ANY(:scope)', { scope });
    return paginate(qb, page);
  }

  async bySlug(ctx: RequestContext, slug: string): Promise<Project> {
    const project = await this.db.getRepository(Project).findOneBy({ slug });
    if (!project || !ctx.can('read', 'Project', project.id)) throw new NotFoundError('Project', slug);
    return project;
  }

  /** Loads a project the caller may read, by id: NOT_FOUND otherwise (no existence leak). */
  async byId(ctx: RequestContext, id: string): Promise<Project> {
    const project = await this.loaders.byId(ctx).load(id);
    if (!project || !ctx.can('read', 'Project', project.id)) throw new NotFoundError('Project', id);
    return project;
  }

  /**
   * The project named by `ref` (slug or id) in which the caller may read `subject`, or NOT_FOUND
   * naming the `project` field (no existence leak). Write checks stay with the caller.
   */
  async resolve(ctx: RequestContext, ref: string, subject: Subject = 'Project'): Promise<Project> {
    const qb = this.db.getRepository(Project).createQueryBuilder('p').where('p.slug = :slug', { slug: ref });
    // A slug may itself look like a UUID, so an id-shaped ref matches either column.
    if (isUuid(ref)) qb.orWhere('p.id = :id', { id: ref });
    const project = await qb.getOne();
    if (!project || !ctx.can('read', 'Project', project.id) || !ctx.can('read', subject, project.id)) {
      throw new NotFoundError('Project', `${ref} (project)`);
    }
    return project;
  }
}
