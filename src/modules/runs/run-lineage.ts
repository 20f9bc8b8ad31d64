import {
  LineageNodeKind,
  LineageRelation,
  type Lineage,
  type LineageEdge,
  type LineageNode,
} from './run.types';

/** What the lineage queries found upstream of one model version. */
export interface LineageFacts {
  version: {
    id: string;
    projectId: string;
    label: string;
    runId: string | null;
    datasetVersionId: string | null;
  };
  run: { id: string; projectId: string; label: string; inputIds: string[] } | null;
  datasetVersions: Array<{ id: string; projectId: string; label: string }>;
}

/** Whether the caller may see a node of `kind` in `projectId`. */
export type CanSee = (kind: LineageNodeKind, projectId: string) => boolean;

/**
 * Builds the upstream graph of a model version: the run that produced it, the dataset version it was
 * trained on and the dataset versions its run consumed. Nodes appear once; nodes the caller may not
 * see, or that no longer exist, are left out together with their edges.
 */
export function buildLineage(facts: LineageFacts, canSee: CanSee): Lineage {
  const nodes = new Map<string, LineageNode>();
  const edges: LineageEdge[] = [];
  const seen = new Set<string>();
  const add = (id: string, kind: LineageNodeKind, label: string, projectId: string): boolean => {
    if (nodes.has(id)) return true;
    if (!canSee(kind, projectId)) return false;
    nodes.set(id, { id, kind, label });
    return true;
  };
  const link = (from: string, to: string, relation: LineageRelation): void => {
    const key = `${from}>${to}>${relation}`;
    if (seen.has(key) || !nodes.has(from) || !nodes.has(to)) return;
    seen.add(key);
    edges.push({ from, to, relation });
  };
  const datasets = new Map(facts.datasetVersions.map((d) => [d.id, d]));
  const addDataset = (id: string): boolean => {
    const d = datasets.get(id);
    return d ? add(d.id, LineageNodeKind.DATASET_VERSION, d.label, d.projectId) : false;
  };

  const { version, run } = facts;
  add(version.id, LineageNodeKind.MODEL_VERSION, version.label, version.projectId);
  if (run && run.id === version.runId && add(run.id, LineageNodeKind.RUN, run.label, run.projectId)) {
    link(run.id, version.id, LineageRelation.PRODUCED);
    for (const input of run.inputIds) {
      if (addDataset(input)) link(input, run.id, LineageRelation.CONSUMED);
    }
  }
  if (version.datasetVersionId && addDataset(version.datasetVersionId)) {
    link(version.datasetVersionId, version.id, LineageRelation.TRAINED_ON);
  }
  return { nodes: [...nodes.values()], edges };
}
