import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { In } from 'typeorm';
import DataLoader from 'dataloader';
import { NotFoundError } from '../../common/errors';
import { paginate, type ConnectionResult, type PageArgs } from '../../common/pagination';
import { requireSlug, requireText } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import { Project, RiskLevel } from './project.entity';
import type { CreateProjectInput } from './project.types';

export class ProjectService {
  constructor(private readonly db: DataSource) {}

  async create(ctx: RequestContext, input: CreateProjectInput): Promise<Project> {
    // Checked against the new project's own id: a project-scoped key's scope never contains it.
    const id = randomUUID();
    ctx.authorize('create', 'Project', id);
    const repo = this.db.getRepository(Project);
    const project = repo.create({
      id,
      slug: requireSlug('slug', input.slug),
      name: requireText('name', input.name),
      description: input.description?.trim() || null,
      riskLevel: input.riskLevel ?? RiskLevel.MINIMAL,
    });
    await repo.insert(project);
    return project;
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
    const project = await this.loader(ctx).load(id);
    if (!project || !ctx.can('read', 'Project', project.id)) throw new NotFoundError('Project', id);
    return project;
  }

  /** Resolves a project given by slug or id, and checks the caller may do `action` there. */
  async resolve(ctx: RequestContext, ref: string, field = 'project'): Promise<Project> {
    const project = await this.db
      .getRepository(Project)
      .createQueryBuilder('p')
      .where(/^[0-9a-f-]{36}$/i.test(ref) ? 'p.id = :ref' : 'p.slug = :ref', { ref })
      .getOne();
    if (!project || !ctx.can('read', 'Project', project.id))
      throw new NotFoundError('Project', `${ref} (${field})`);
    return project;
  }

  loader(ctx: RequestContext): DataLoader<string, Project | undefined> {
    return ctx.loader(
      'project.byId',
      () =>
        new DataLoader(async (ids: readonly string[]) => {
          const rows = await this.db.getRepository(Project).findBy({ id: In([...ids]) });
          const byId = new Map(rows.map((p) => [p.id, p]));
          return ids.map((id) => byId.get(id));
        }),
    );
  }
}
