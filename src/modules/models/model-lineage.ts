import type { EntityManager } from 'typeorm';
import { NotFoundError } from '../../common/errors';
import { requireId } from '../../common/validate';
import type { RequestContext } from '../../context/context';
import { datasetVersionLabels } from '../datasets/dataset.repository';
import { buildLineage } from '../runs/run-lineage';
import { runWithInputs } from '../runs/run.repository';
import { LineageNodeKind, type Lineage } from '../runs/run.types';

const SUBJECT_OF = {
  [LineageNodeKind.MODEL_VERSION]: 'Model',
  [LineageNodeKind.RUN]: 'Run',
  [LineageNodeKind.DATASET_VERSION]: 'Dataset',
} as const;

/**
 * The upstream lineage of a model version, in three statements at most: the version, its run with
 * the run's inputs, and the dataset versions involved. Dataset versions record no producing run, so
 * the walk stops there. Nodes the caller may not read are left out; an unreadable version is NOT_FOUND.
 */
export async function modelVersionLineage(
  manager: EntityManager,
  ctx: RequestContext,
  modelVersionId: string,
): Promise<Lineage> {
  const id = requireId('modelVersionId', modelVersionId);
  const [version]: Array<{
    id: string;
    project_id: string;
    run_id: string | null;
    dataset_version_id: string | null;
    label: string;
  }> = await manager.query(
    `SELECT mv.id, mv.project_id, mv.run_id, mv.dataset_version_id, m.name || ' v' || mv.version AS label
       FROM model_version mv JOIN model m ON m.id = mv.model_id
      WHERE mv.id = $1`,
    [id],
  );
  if (!version || !ctx.can('read', 'Model', version.project_id)) throw new NotFoundError('ModelVersion', id);

  const run = version.run_id ? await runWithInputs(manager, version.run_id) : null;
  const datasetIds = [
    ...new Set([
      ...(run?.inputIds ?? []),
      ...(version.dataset_version_id ? [version.dataset_version_id] : []),
    ]),
  ];
  return buildLineage(
    {
      version: {
        id: version.id,
        projectId: version.project_id,
        label: version.label,
        runId: version.run_id,
        datasetVersionId: version.dataset_version_id,
      },
      run: run && { id: run.id, projectId: run.projectId, label: run.name, inputIds: run.inputIds },
      datasetVersions: await datasetVersionLabels(manager, datasetIds),
    },
    (kind, projectId) => ctx.can('read', SUBJECT_OF[kind], projectId),
  );
}
