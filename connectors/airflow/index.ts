import { actionSession } from '../_shared';
import type { ActionSpec, ConnectorDefinition } from '../_shared';
import { AirflowClient, dagRunIdFor } from './client';

/** The run concept an action result names (Airflow has no stream this adapter reads). */
const DAG_RUNS = 'dagRuns';

const TRIGGER_DAG_RUN: ActionSpec = {
  name: 'triggerDagRun',
  description:
    'Starts a DAG run (POST /api/v1/dags/{dag_id}/dagRuns) with a dag_run_id derived from the idempotency key, so a retry returns the run the first attempt started.',
  input: [
    { name: 'dagId', type: 'string', required: true, description: 'The DAG to run.' },
    {
      name: 'conf',
      type: 'json',
      description:
        'The run’s conf, any JSON object (e.g. an alert’s evidence), read by the DAG as dag_run.conf.',
    },
    { name: 'note', type: 'string', description: 'A note shown on the run (Airflow 2.5 and later).' },
  ],
};

/**
 * Apache Airflow 2 (stable REST API): no streams; one action that triggers a DAG run. Auth is basic
 * (username and password, the `basic_auth` API backend) or a bearer token.
 */
export const airflow: ConnectorDefinition = {
  spec: {
    kind: 'airflow',
    title: 'Apache Airflow',
    config: [
      {
        name: 'baseUrl',
        type: 'url',
        required: true,
        description: 'The Airflow webserver, e.g. https://airflow.example.com (the API is under /api/v1).',
      },
    ],
    secrets: [
      { name: 'username', type: 'string', description: 'User for basic auth (with password).' },
      { name: 'password', type: 'string', description: 'Password for basic auth.' },
      {
        name: 'token',
        type: 'string',
        description: 'A bearer token instead of basic auth (used when both are given).',
      },
    ],
  },
  streams: [],
  actions: [TRIGGER_DAG_RUN],
  open(config, secrets, env) {
    const client = new AirflowClient(
      {
        baseUrl: String(config.baseUrl),
        username: secrets.username,
        password: secrets.password,
        token: secrets.token,
      },
      env,
    );
    return actionSession({
      vendor: 'Airflow',
      does: 'triggers DAG runs',
      action: TRIGGER_DAG_RUN,
      check: () => client.check(),
      async run(input, key) {
        const raw = await client.triggerDagRun({
          dagId: input.dagId as string,
          dagRunId: dagRunIdFor(key),
          conf: (input.conf as Record<string, unknown> | undefined) ?? {},
          note: input.note as string | undefined,
        });
        return { externalId: String(raw.dag_run_id), stream: DAG_RUNS, raw };
      },
    });
  },
};
