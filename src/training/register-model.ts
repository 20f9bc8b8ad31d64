import { createHash, randomUUID } from 'node:crypto';
import type { TrainedTicketRouter } from './train-ticket-router';
import { TICKET_COLUMNS } from './ticket-dataset';

/** Where the hub is and who calls it. */
export interface NerveApi {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`; artifacts live beside it. */
  url: string;
  /** An API key allowed to write to the project. */
  key: string;
  /**
   * Tries per request for failures that say nothing reached the hub or it could not answer yet (the
   * connection refused or reset, 429, 502-504). Default 4.
   */
  attempts?: number;
  /** The first retry's delay in ms, doubled each time (with jitter). Default 250. */
  retryDelayMs?: number;
}

export interface RegisterTrainedModelOptions {
  /** The project, by slug or id. */
  project: string;
  /** Model name; created as a CLASSIFICATION model when missing. Default `ticket-router`. */
  model?: string;
  /** Dataset name; created when missing. Default `support-tickets`. */
  dataset?: string;
}

/** The ids of what a registration created. */
export interface RegisteredModel {
  datasetId: string;
  datasetVersionId: string;
  datasetVersion: number;
  runId: string;
  modelId: string;
  modelVersionId: string;
  version: number;
  /** VALIDATED when every golden sample reproduced, REJECTED otherwise. */
  status: string;
  /** The hub's golden-sample report: `{ samples, passed, failed, mismatches }`. */
  validation: Record<string, unknown> | null;
}

/** What registration reads from a training result. */
export type TrainedModel = Pick<
  TrainedTicketRouter,
  | 'options'
  | 'onnx'
  | 'preprocessing'
  | 'labels'
  | 'featureNames'
  | 'metrics'
  | 'history'
  | 'goldenSamples'
  | 'dataset'
  | 'trainingMs'
>;

/** A GraphQL error answered by the hub, with its `extensions.code` and `field` when given. */
export class NerveApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'NerveApiError';
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string; field?: string } }>;
}

/** A minimal GraphQL client over global fetch: every response with errors throws. */
class Client {
  constructor(private readonly api: NerveApi) {}

  async request<T>(operation: string, query: string, variables: Record<string, unknown>): Promise<T> {
    const res = await this.send(`${operation}: cannot reach ${this.api.url}`, this.api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.api.key}` },
      body: JSON.stringify({ query, variables, operationName: operation }),
    });
    const text = await res.text();
    let body: GraphQLResponse<T>;
    try {
      body = JSON.parse(text) as GraphQLResponse<T>;
    } catch {
      throw new NerveApiError(`${operation}: HTTP ${res.status} with a non-JSON body: ${text.slice(0, 200)}`);
    }
    if (body.errors?.length) {
      const [first] = body.errors;
      const code = first.extensions?.code;
      const more = body.errors.length > 1 ? ` (and ${body.errors.length - 1} more errors)` : '';
      throw new NerveApiError(
        `${operation}: ${first.message}${code ? ` [${code}]` : ''}${more}`,
        code,
        first.extensions?.field,
      );
    }
    if (!res.ok || !body.data) throw new NerveApiError(`${operation}: HTTP ${res.status} without data`);
    return body.data;
  }

  /**
   * fetch, retried with backoff while the failure is transient. A hub under load (or starting) may
   * reset a reused keep-alive socket or answer 503; giving up on the first such blip is what left
   * pipelines, and the demo seed, half done.
   */
  private async send(failure: string, url: string, init: RequestInit): Promise<Response> {
    const attempts = Math.max(1, this.api.attempts ?? 4);
    const base = this.api.retryDelayMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      let res: Response | undefined;
      let error: unknown;
      try {
        res = await fetch(url, init);
      } catch (caught) {
        error = caught;
      }
      const transient = !res || TRANSIENT_STATUSES.has(res.status);
      if (!transient || attempt >= attempts) {
        if (res) return res;
        throw new NerveApiError(`${failure}: ${reason(error)}`);
      }
      // Drain the refused answer so its socket can be reused.
      await res?.arrayBuffer().catch(() => undefined);
      const retryAfter = Number(res?.headers.get('retry-after'));
      const delay =
        Number.isFinite(retryAfter) && retryAfter > 0
          ? retryAfter * 1000
          : base * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Artifacts are served beside the GraphQL endpoint: `<base>/artifacts/sha256/<hex>`. */
  artifactUrl(sha256: string): string {
    return `${this.api.url.replace(/\/graphql\/?$/, '')}/artifacts/sha256/${sha256}`;
  }

  /** Stores bytes for a project with `PUT /artifacts/sha256/<hex>?project=` and returns the hex digest. */
  async upload(bytes: Uint8Array | string, project: string, what: string): Promise<string> {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const sha256 = createHash('sha256').update(buffer).digest('hex');
    const url = `${this.artifactUrl(sha256)}?project=${encodeURIComponent(project)}`;
    const res = await this.send(`uploading the ${what}: cannot reach ${url}`, url, {
      method: 'PUT',
      headers: { authorization: `Bearer ${this.api.key}`, 'content-type': 'application/octet-stream' },
      body: buffer,
    });
    if (res.status !== 200 && res.status !== 201) {
      const text = await res.text();
      // The hub answers errors as GraphQL does, so a caller can tell an unknown project (NOT_FOUND) apart.
      let error: { extensions?: { code?: string; field?: string } } | undefined;
      try {
        error = (JSON.parse(text) as GraphQLResponse<unknown>).errors?.[0];
      } catch {
        error = undefined;
      }
      throw new NerveApiError(
        `uploading the ${what}: HTTP ${res.status}: ${text.slice(0, 300)}`,
        error?.extensions?.code,
        error?.extensions?.field,
      );
    }
    return sha256;
  }
}

/** Answers that mean "not now": the same request may well succeed a moment later. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

const reason = (error: unknown): string =>
  error instanceof Error
    ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
    : String(error);

const DATASETS = `query Datasets($project: String!, $first: Int, $after: String) {
  datasets(project: $project, first: $first, after: $after) {
    edges { node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const CREATE_DATASET = `mutation CreateDataset($input: CreateDatasetInput!) {
  createDataset(input: $input) { id name }
}`;
const LATEST_DATASET_VERSION = `query Dataset($id: ID!) {
  dataset(id: $id) { versions(first: 1) { id version sha256 } }
}`;
const REGISTER_DATASET_VERSION = `mutation RegisterDatasetVersion($input: RegisterDatasetVersionInput!) {
  registerDatasetVersion(input: $input) { id version rowCount }
}`;
const START_RUN = `mutation StartRun($input: StartRunInput!) {
  startRun(input: $input) { id status }
}`;
const LOG_RUN_METRICS = `mutation LogRunMetrics($runId: ID!, $points: [MetricPointInput!]!, $idempotencyKey: String) {
  logRunMetrics(runId: $runId, points: $points, idempotencyKey: $idempotencyKey) { runId accepted }
}`;
const FINISH_RUN = `mutation FinishRun($id: ID!, $status: RunStatus!, $error: String) {
  finishRun(id: $id, status: $status, error: $error) { id status }
}`;
const MODELS = `query Models($project: String!, $first: Int, $after: String) {
  models(project: $project, first: $first, after: $after) {
    edges { node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const CREATE_MODEL = `mutation CreateModel($input: CreateModelInput!) {
  createModel(input: $input) { id name }
}`;
const REGISTER_MODEL_VERSION = `mutation RegisterModelVersion($input: RegisterModelVersionInput!) {
  registerModelVersion(input: $input) { id version status validation }
}`;

interface Named {
  id: string;
  name: string;
}
interface Page {
  edges: Array<{ node: Named }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Finds a dataset or model of a project by name, page by page. */
async function findByName(
  client: Client,
  operation: 'Datasets' | 'Models',
  project: string,
  name: string,
): Promise<Named | undefined> {
  const [query, root] = operation === 'Datasets' ? [DATASETS, 'datasets'] : [MODELS, 'models'];
  let after: string | null = null;
  for (;;) {
    const data: Record<string, Page> = await client.request(operation, query, { project, first: 100, after });
    const page = data[root];
    const found = page.edges.find((e) => e.node.name === name);
    if (found) return found.node;
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return undefined;
    after = page.pageInfo.endCursor;
  }
}

/**
 * The dataset's latest version when it holds this very CSV (retraining on unchanged data), else a new
 * version registered from the uploaded CSV.
 */
async function datasetVersionOf(
  client: Client,
  datasetId: string,
  csvSha256: string,
  idempotencyKey: string,
): Promise<{ id: string; version: number }> {
  const { dataset } = await client.request<{
    dataset: { versions: Array<{ id: string; version: number; sha256: string }> };
  }>('Dataset', LATEST_DATASET_VERSION, { id: datasetId });
  const latest = dataset.versions[0];
  if (latest?.sha256 === csvSha256) return latest;
  const { registerDatasetVersion } = await client.request<{
    registerDatasetVersion: { id: string; version: number };
  }>('RegisterDatasetVersion', REGISTER_DATASET_VERSION, {
    input: {
      datasetId,
      csvSha256,
      uri: client.artifactUrl(csvSha256),
      columns: TICKET_COLUMN_TYPES,
      idempotencyKey,
    },
  });
  return registerDatasetVersion;
}

/** The CSV's column types, declared rather than inferred: the text columns are categorical to the profiler. */
const TICKET_COLUMN_TYPES = TICKET_COLUMNS.map((name) => ({
  name,
  type: ['account_age_days', 'prior_tickets', 'attachments'].includes(name) ? 'NUMERIC' : 'CATEGORICAL',
}));

/**
 * Registers a trained ticket router the way an outside pipeline would, through the hub's GraphQL API:
 * uploads the training CSV and registers it as the next version of the dataset (created when missing),
 * records a TRAINING run reading it with its per-epoch and final metrics, uploads the ONNX model and
 * registers it as the next version of the model (created when missing) with its preprocessing spec,
 * lineage, metrics, model card and golden samples, then marks the run SUCCEEDED (FAILED, with the
 * reason, if anything after its start went wrong). Throws NerveApiError on the first error the hub answers.
 */
export async function registerTrainedModel(
  api: NerveApi,
  trained: TrainedModel,
  options: RegisterTrainedModelOptions,
): Promise<RegisteredModel> {
  const client = new Client(api);
  const { project } = options;
  // The client retries a request whose reply was lost; each creating mutation carries a key of this
  // registration, so such a retry returns what the first attempt made instead of making it twice.
  const attempt = randomUUID();
  const once = (what: string): string => `register-trained-model:${attempt}:${what}`;
  const modelName = options.model ?? 'ticket-router';
  const datasetName = options.dataset ?? 'support-tickets';

  const csvSha256 = await client.upload(trained.dataset.csv, project, 'training CSV');
  const dataset =
    (await findByName(client, 'Datasets', project, datasetName)) ??
    (
      await client.request<{ createDataset: Named }>('CreateDataset', CREATE_DATASET, {
        input: {
          project,
          name: datasetName,
          description: 'Support tickets labelled with the queue that handled them',
          idempotencyKey: once('dataset'),
        },
      })
    ).createDataset;
  const datasetVersion = await datasetVersionOf(client, dataset.id, csvSha256, once('dataset-version'));

  const { startRun: run } = await client.request<{ startRun: { id: string } }>('StartRun', START_RUN, {
    input: {
      project,
      name: `train ${modelName}`,
      kind: 'TRAINING',
      params: { ...trained.options, algorithm: 'softmax-regression', optimizer: 'adam' },
      tags: { model: modelName, dataset: datasetName, trainer: 'nerve-training' },
      inputs: [datasetVersion.id],
      idempotencyKey: once('run'),
    },
  });

  try {
    await client.request('LogRunMetrics', LOG_RUN_METRICS, {
      runId: run.id,
      points: runPoints(trained),
      idempotencyKey: once('metrics'),
    });
    const artifactSha256 = await client.upload(trained.onnx, project, 'ONNX model');
    const model =
      (await findByName(client, 'Models', project, modelName)) ??
      (
        await client.request<{ createModel: Named }>('CreateModel', CREATE_MODEL, {
          input: {
            project,
            name: modelName,
            task: 'CLASSIFICATION',
            description: 'Routes support tickets to a queue',
            idempotencyKey: once('model'),
          },
        })
      ).createModel;
    const { registerModelVersion: version } = await client.request<{
      registerModelVersion: {
        id: string;
        version: number;
        status: string;
        validation: Record<string, unknown> | null;
      };
    }>('RegisterModelVersion', REGISTER_MODEL_VERSION, {
      input: {
        modelId: model.id,
        artifactSha256,
        featureNames: trained.featureNames,
        labels: trained.labels,
        preprocessing: trained.preprocessing,
        runId: run.id,
        datasetVersionId: datasetVersion.id,
        metrics: trained.metrics,
        modelCard: modelCard(trained),
        goldenSamples: trained.goldenSamples,
        idempotencyKey: once('model-version'),
      },
    });
    await client.request('FinishRun', FINISH_RUN, { id: run.id, status: 'SUCCEEDED' });
    return {
      datasetId: dataset.id,
      datasetVersionId: datasetVersion.id,
      datasetVersion: datasetVersion.version,
      runId: run.id,
      modelId: model.id,
      modelVersionId: version.id,
      version: version.version,
      status: version.status,
      validation: version.validation,
    };
  } catch (error) {
    // Best effort: the run should not stay RUNNING; the original error is the one worth reporting.
    await client
      .request('FinishRun', FINISH_RUN, { id: run.id, status: 'FAILED', error: reason(error).slice(0, 1000) })
      .catch(() => undefined);
    throw error;
  }
}

/**
 * The run's metric points: per-epoch `train_loss`, `train_accuracy`, `val_loss` and `val_accuracy` at
 * steps 1..epochs, then the final metrics at the last epoch's step.
 */
export function runPoints(trained: Pick<TrainedModel, 'history' | 'metrics' | 'trainingMs'>): Array<{
  key: string;
  step: number;
  value: number;
}> {
  const points: Array<{ key: string; step: number; value: number }> = [];
  for (const e of trained.history) {
    points.push({ key: 'train_loss', step: e.epoch, value: e.loss });
    points.push({ key: 'train_accuracy', step: e.epoch, value: e.accuracy });
    if (e.valLoss !== undefined) points.push({ key: 'val_loss', step: e.epoch, value: e.valLoss });
    if (e.valAccuracy !== undefined)
      points.push({ key: 'val_accuracy', step: e.epoch, value: e.valAccuracy });
  }
  const last = trained.history.at(-1)?.epoch ?? 0;
  for (const [key, value] of Object.entries(trained.metrics)) {
    // train_accuracy already has its per-epoch series, ending on the same value.
    if (key !== 'train_accuracy') points.push({ key, step: last, value });
  }
  points.push({ key: 'training_ms', step: last, value: Math.round(trained.trainingMs) });
  return points;
}

function modelCard(trained: TrainedModel): Record<string, unknown> {
  return {
    description: 'Routes a support ticket (subject, body, channel, tier, account history) to one queue.',
    intendedUse: 'Suggesting a queue to support agents; a person confirms low-confidence routes.',
    labels: trained.labels,
    algorithm: 'multinomial logistic regression (softmax, L2) on hashed word n-grams',
    training: {
      rows: trained.dataset.trainRows,
      heldOut: trained.dataset.testRows,
      options: trained.options,
      durationMs: Math.round(trained.trainingMs),
    },
    limitations:
      'Trained on synthetic English tickets; expect lower accuracy on real traffic until retrained.',
  };
}
