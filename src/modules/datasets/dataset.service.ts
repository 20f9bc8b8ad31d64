import type { DataSource } from 'typeorm';
import type { ProjectService } from '../projects/project.service';
import type { ArtifactService } from '../artifacts/artifact.service';

export class DatasetService {
  constructor(private readonly db: DataSource, private readonly projects: ProjectService, private readonly artifacts: ArtifactService) {}
}
