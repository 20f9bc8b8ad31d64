import { Role } from '../modules/api-keys/api-key.entity';
import { Project, RiskLevel } from '../modules/projects/project.entity';
import { ApiKey } from '../modules/api-keys/api-key.entity';
import type { Services } from './services';

export interface SeedResult {
  /** The one-time admin key, when this start created it. */
  adminKey?: string;
  demoProject?: string;
}

/** An arbitrary constant: the advisory lock under which one replica seeds a fresh database. */
const SEED_LOCK = 7_146_500_102;

/** On a fresh database: an admin key (shown once) and, unless disabled, a demo project. */
export async function seed(services: Services): Promise<SeedResult> {
  return services.db.transaction(async (manager) => {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK]);
    const result: SeedResult = {};
    if ((await manager.count(ApiKey)) === 0) {
      const { secret } = await services.apiKeys.bootstrap(
        { name: 'bootstrap admin', role: Role.ADMIN },
        manager,
      );
      result.adminKey = secret;
    }
    if (services.config.seedDemo && (await manager.count(Project)) === 0) {
      await manager.insert(Project, {
        slug: 'demo',
        name: 'Demo project',
        description: 'Created on first start. Safe to delete.',
        riskLevel: RiskLevel.LIMITED,
      });
      result.demoProject = 'demo';
    }
    return result;
  });
}
