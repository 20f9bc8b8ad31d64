import { actionSession, isObject } from '../_shared';
import type { ActionSpec, ConnectorDefinition } from '../_shared';
import { TemporalClient, requestIdFor, workflowIdFor } from './client';

/** The run concept an action result names (this adapter reads no stream). */
const WORKFLOW_RUNS = 'workflowRuns';

const START_WORKFLOW: ActionSpec = {
  name: 'startWorkflow',
  description:
    'Starts a workflow execution (StartWorkflowExecution over the HTTP API) with a workflow id and request id derived from the idempotency key, so a retry returns the run the first attempt started.',
  input: [
    { name: 'workflowType', type: 'string', required: true, description: 'The workflow type (its name).' },
    { name: 'taskQueue', type: 'string', required: true, description: 'The task queue its workers poll.' },
    {
      name: 'input',
      type: 'json',
      description: 'The workflow’s one argument, any JSON object.',
    },
  ],
};

/**
 * Temporal (self-hosted with the frontend's HTTP API enabled, or Temporal Cloud): no streams; one action
 * that starts a workflow execution. Auth is an API key sent as a bearer token, or none.
 */
export const temporal: ConnectorDefinition = {
  spec: {
    kind: 'temporal',
    title: 'Temporal',
    config: [
      {
        name: 'baseUrl',
        type: 'url',
        required: true,
        description:
          'The frontend’s HTTP API, e.g. http://temporal-frontend:7243 or https://<namespace>.<account>.tmprl.cloud.',
      },
      { name: 'namespace', type: 'string', required: true, description: 'The Temporal namespace.' },
    ],
    secrets: [
      {
        name: 'apiKey',
        type: 'string',
        description: 'An API key, sent as `Authorization: Bearer …` (leave empty for a server without auth).',
      },
    ],
  },
  streams: [],
  actions: [START_WORKFLOW],
  open(config, secrets, env) {
    const client = new TemporalClient(
      { baseUrl: String(config.baseUrl), namespace: String(config.namespace), apiKey: secrets.apiKey },
      env,
    );
    return actionSession({
      vendor: 'Temporal',
      does: 'starts workflows',
      action: START_WORKFLOW,
      check: () => client.check(),
      async run(input, key) {
        const raw = await client.startWorkflow({
          workflowId: workflowIdFor(key),
          requestId: requestIdFor(key),
          workflowType: input.workflowType as string,
          taskQueue: input.taskQueue as string,
          args: input.input === undefined ? [] : [input.input],
        });
        return { externalId: runIdOf(raw), stream: WORKFLOW_RUNS, raw };
      },
    });
  },
};

/**
 * A start reply carries `runId`; a described execution (the id was taken by a reset or continue-as-new of
 * the run this key started) is named by the chain's first run, which is the run the key started.
 */
function runIdOf(raw: Record<string, unknown>): string {
  if (typeof raw.runId === 'string') return raw.runId;
  const info = isObject(raw.workflowExecutionInfo) ? raw.workflowExecutionInfo : {};
  if (typeof info.firstRunId === 'string' && info.firstRunId !== '') return info.firstRunId;
  const execution = isObject(info.execution) ? info.execution : {};
  return String(execution.runId);
}
