import type { DataSource } from 'typeorm';
import type { ProjectService } from '../projects/project.service';
import type { IdempotencyService } from '../idempotency/idempotency.service';

export class RunService {
  constructor(private readonly db: DataSource, private readonly projects: ProjectService, private readonly idempotency: IdempotencyService, private readonly now: () => Date) {}
}
