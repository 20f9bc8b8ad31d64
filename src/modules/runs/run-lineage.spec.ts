import { buildLineage, type LineageFacts } from './run-lineage';
import { LineageNodeKind, LineageRelation } from './run.types';

const P = 'project-a';
const facts = (over: Partial<LineageFacts> = {}): LineageFacts => ({
  version: { id: 'mv', projectId: P, label: 'churn v2', runId: 'run', datasetVersionId: 'dv1' },
  run: { id: 'run', projectId: P, label: 'train', inputIds: ['dv1', 'dv2'] },
  datasetVersions: [
    { id: 'dv1', projectId: P, label: 'tickets v1' },
    { id: 'dv2', projectId: P, label: 'tickets v2' },
  ],
  ...over,
});

describe('buildLineage', () => {
  it('links the run, its inputs and the training set upstream of the version, each node once', () => {
    const lineage = buildLineage(facts(), () => true);
    expect(lineage.nodes).toEqual([
      { id: 'mv', kind: LineageNodeKind.MODEL_VERSION, label: 'churn v2' },
      { id: 'run', kind: LineageNodeKind.RUN, label: 'train' },
      { id: 'dv1', kind: LineageNodeKind.DATASET_VERSION, label: 'tickets v1' },
      { id: 'dv2', kind: LineageNodeKind.DATASET_VERSION, label: 'tickets v2' },
    ]);
    expect(lineage.edges).toEqual([
      { from: 'run', to: 'mv', relation: LineageRelation.PRODUCED },
      { from: 'dv1', to: 'run', relation: LineageRelation.CONSUMED },
      { from: 'dv2', to: 'run', relation: LineageRelation.CONSUMED },
      { from: 'dv1', to: 'mv', relation: LineageRelation.TRAINED_ON },
    ]);
  });

  it('is the version alone when it has no run and no dataset', () => {
    const lineage = buildLineage(
      facts({
        version: { id: 'mv', projectId: P, label: 'v1', runId: null, datasetVersionId: null },
        run: null,
        datasetVersions: [],
      }),
      () => true,
    );
    expect(lineage).toEqual({
      nodes: [{ id: 'mv', kind: LineageNodeKind.MODEL_VERSION, label: 'v1' }],
      edges: [],
    });
  });

  it('leaves out nodes the caller may not see, and their edges', () => {
    const lineage = buildLineage(
      facts({
        datasetVersions: [
          { id: 'dv1', projectId: P, label: 'a' },
          { id: 'dv2', projectId: 'other', label: 'b' },
        ],
      }),
      (_kind, projectId) => projectId === P,
    );
    expect(lineage.nodes.map((n) => n.id)).toEqual(['mv', 'run', 'dv1']);
    expect(lineage.edges.some((e) => e.from === 'dv2' || e.to === 'dv2')).toBe(false);
  });

  it('skips ids whose rows are gone', () => {
    const lineage = buildLineage(facts({ datasetVersions: [] }), () => true);
    expect(lineage.nodes.map((n) => n.id)).toEqual(['mv', 'run']);
    expect(lineage.edges).toEqual([{ from: 'run', to: 'mv', relation: LineageRelation.PRODUCED }]);
  });
});
