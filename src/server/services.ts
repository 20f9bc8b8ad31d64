import type { DataSource } from 'typeorm';
import { ApiKeyService } from '../auth/api-key.service';
import type { Config } from '../config/config';
import type { Logger } from '../common/logger';
import { ArtifactStore } from '../modules/artifacts/artifact-store';
import { ArtifactService } from '../modules/artifacts/artifact.service';
import { DatasetService } from '../modules/datasets/dataset.service';
import { IdempotencyService } from '../modules/idempotency/idempotency.service';
import { ModelService } from '../modules/models/model.service';
import { ProjectService } from '../modules/projects/project.service';
import { RunService } from '../modules/runs/run.service';
import path from 'node:path';

/** The process's service singletons. Resolvers receive this; services receive the request context per call. */
export interface Services {
  db: DataSource;
  config: Config;
  logger: Logger;
  now: () => Date;
  apiKeys: ApiKeyService;
  projects: ProjectService;
  artifacts: ArtifactService;
  idempotency: IdempotencyService;
  datasets: DatasetService;
  models: ModelService;
  runs: RunService;
}

export function createServices(
  db: DataSource,
  config: Config,
  logger: Logger,
  now: () => Date = () => new Date(),
): Services {
  const projects = new ProjectService(db);
  const artifacts = new ArtifactService(
    db,
    new ArtifactStore(path.join(config.dataDir, 'artifacts')),
    config.maxArtifactBytes,
  );
  const idempotency = new IdempotencyService(db);
  return {
    db,
    config,
    logger,
    now,
    apiKeys: new ApiKeyService(db, () => now().getTime()),
    projects,
    artifacts,
    idempotency,
    datasets: new DatasetService(db, projects, artifacts),
    models: new ModelService(db, projects, artifacts, now),
    runs: new RunService(db, projects, idempotency, now),
  };
}
