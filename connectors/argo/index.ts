import { randomUUID } from 'node:crypto';
import { badField, permanent, validateFields } from '../_shared';
import type { ActionResult, ActionSpec, ConnectorDefinition } from '../_shared';
import { ArgoClient, workflowNameFor } from './client';

/** The run concept an action result names (this adapter reads no stream). */
const WORKFLOWS = 'workflows';

/** Set on every workflow this adapter submits, so they can be found with a label selector. */
const LABELS = { 'app.kubernetes.io/managed-by': 'nerve' };

const SUBMIT_WORKFLOW: ActionSpec = {
  name: 'submitWorkflow',
  description:
    'Submits a workflow from a WorkflowTemplate (POST /api/v1/workflows/{namespace}/submit), named after the idempotency key so a retry returns the workflow the first attempt created.',
  input: [
    {
      name: 'workflowTemplate',
      type: 'string',
      required: true,
      description: 'The WorkflowTemplate, in the configured namespace.',
    },
    {
      name: 'parameters',
      type: 'object',
      description: 'Workflow arguments (spec.arguments.parameters), by name; values are sent as text.',
    },
  ],
};

/**
 * Argo Workflows (the Argo Server's HTTP API): no streams; one action that submits a workflow from a
 * WorkflowTemplate. Auth is a bearer token (a Kubernetes service account token), or none in server mode.
 */
export const argo: ConnectorDefinition = {
  spec: {
    kind: 'argo',
    title: 'Argo Workflows',
    config: [
      {
        name: 'baseUrl',
        type: 'url',
        required: true,
        description: 'The Argo Server, e.g. https://argo.example.com:2746.',
      },
      {
        name: 'namespace',
        type: 'string',
        required: true,
        description: 'The Kubernetes namespace holding the WorkflowTemplates and the workflows.',
      },
    ],
    secrets: [
      {
        name: 'token',
        type: 'string',
        description:
          'A service account token, sent as `Authorization: Bearer …` (leave empty when the server runs in server auth mode).',
      },
    ],
  },
  streams: [],
  actions: [SUBMIT_WORKFLOW],
  open(config, secrets, env) {
    const client = new ArgoClient(
      { baseUrl: String(config.baseUrl), namespace: String(config.namespace), token: secrets.token },
      env,
    );
    return {
      check: () => client.check(),
      read(stream) {
        throw permanent(`Argo Workflows has no stream "${stream}": this adapter only submits workflows`);
      },
      async act(action, rawInput, idempotencyKey): Promise<ActionResult> {
        if (action !== SUBMIT_WORKFLOW.name)
          throw badField('action', `unknown action "${action}"; expected ${SUBMIT_WORKFLOW.name}`);
        const input = validateFields(SUBMIT_WORKFLOW.input, rawInput, action);
        const parameters = (input.parameters as Record<string, string | number | boolean> | undefined) ?? {};
        for (const name of Object.keys(parameters)) {
          // Argo splits `name=value` at the first `=`.
          if (name === '' || name.includes('='))
            throw badField(`${action}.parameters`, 'parameter names must be non-empty and hold no "="');
        }
        const raw = await client.submitWorkflow({
          workflowTemplate: input.workflowTemplate as string,
          name: workflowNameFor(idempotencyKey ?? randomUUID()),
          parameters,
          labels: LABELS,
        });
        const metadata = raw.metadata as Record<string, unknown>;
        return { externalId: String(metadata.name), stream: WORKFLOWS, raw };
      },
    };
  },
};
