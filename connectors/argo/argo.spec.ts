import { openSession, rejection } from '../../test/fakes/connector-spec';
import type { OpenedSession } from '../../test/fakes/connector-spec';
import { FakeArgoServer } from '../../test/fakes/argo-server';
import type { Fault } from '../../test/fakes/faults';
import { ConnectorError } from '../_shared';
import type { ConnectorSession } from '../_shared';
import { workflowNameFor } from './client';
import { argo } from './index';

function open(
  baseUrl: string,
  options: { token?: string; namespace?: string; maxRetries?: number } = {},
): OpenedSession {
  return openSession(
    argo,
    { baseUrl, namespace: options.namespace ?? 'argo' },
    { token: options.token },
    options,
  );
}

const SUBMIT = 'submitWorkflow';
const PARAMETERS = { dataset: 's3://bucket/2024-06-01', epochs: 3, dryRun: false };

describe('Argo Workflows connector against the fake Argo Server', () => {
  let fake: FakeArgoServer;
  let url: string;
  let session: ConnectorSession;
  beforeEach(async () => {
    fake = new FakeArgoServer();
    url = await fake.start();
    session = open(url, { token: fake.token }).session;
  });
  afterEach(async () => {
    await fake.close();
  });

  const submits = () => fake.requests.filter((r) => r.method === 'POST');

  it('submits a workflow from the template with its parameters, named after the key', async () => {
    const result = await session.act(
      SUBMIT,
      { workflowTemplate: 'train-model', parameters: PARAMETERS },
      'key-1',
    );

    const name = workflowNameFor('key-1');
    expect(result.externalId).toBe(name);
    expect(result.stream).toBe('workflows');
    expect(result.raw).toMatchObject({
      metadata: { name, namespace: 'argo' },
      spec: { workflowTemplateRef: { name: 'train-model' } },
    });
    expect(fake.allWorkflows()).toEqual([
      expect.objectContaining({
        name,
        workflowTemplate: 'train-model',
        parameters: [
          { name: 'dataset', value: 's3://bucket/2024-06-01' },
          { name: 'epochs', value: '3' },
          { name: 'dryRun', value: 'false' },
        ],
        labels: expect.objectContaining({ 'app.kubernetes.io/managed-by': 'nerve' }),
      }),
    ]);
    expect(submits()).toEqual([
      expect.objectContaining({
        path: '/api/v1/workflows/argo/submit',
        authorized: true,
        body: {
          namespace: 'argo',
          resourceKind: 'WorkflowTemplate',
          resourceName: 'train-model',
          submitOptions: {
            name,
            parameters: ['dataset=s3://bucket/2024-06-01', 'epochs=3', 'dryRun=false'],
            labels: 'app.kubernetes.io/managed-by=nerve',
          },
        },
      }),
    ]);
  });

  it('the same key twice submits one workflow: the second meets 409 AlreadyExists and reads the first', async () => {
    const first = await session.act(
      SUBMIT,
      { workflowTemplate: 'train-model', parameters: PARAMETERS },
      'same-key',
    );
    const second = await session.act(
      SUBMIT,
      { workflowTemplate: 'train-model', parameters: PARAMETERS },
      'same-key',
    );

    expect(second.externalId).toBe(first.externalId);
    expect(second.raw).toEqual(first.raw);
    expect(fake.allWorkflows()).toHaveLength(1);
    expect(fake.requests.slice(1).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/workflows/argo/submit',
      `GET /api/v1/workflows/argo/${first.externalId}`,
    ]);
  });

  it('the same key concurrently submits one workflow, and every caller gets it', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => session.act(SUBMIT, { workflowTemplate: 'score-batch' }, 'concurrent')),
    );
    expect(new Set(results.map((r) => r.externalId))).toEqual(new Set([workflowNameFor('concurrent')]));
    expect(fake.allWorkflows()).toHaveLength(1);
  });

  it('a submit whose reply was lost is retried and finds the workflow it created', async () => {
    fake.loseNextSubmitReply = true;
    const result = await session.act(
      SUBMIT,
      { workflowTemplate: 'train-model', parameters: PARAMETERS },
      'lost',
    );
    expect(result.externalId).toBe(workflowNameFor('lost'));
    expect(fake.allWorkflows()).toHaveLength(1);
    expect(fake.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'GET']);
  });

  it('retries 429 (honouring Retry-After), 5xx, a hang, a reset and a garbled reply; one workflow in the end', async () => {
    const faults: Fault[] = [
      {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '1' },
        body: { code: 8, message: 'slow down' },
      },
      { kind: 'status', status: 500, body: { code: 13, message: 'etcdserver: request timed out' } },
      { kind: 'status', status: 503, body: { code: 14, message: 'unavailable' } },
      { kind: 'hang' },
      { kind: 'reset' },
      { kind: 'malformed' },
    ];
    fake.faults.next(...faults);
    const { session: flaky, sleeps } = open(url, { token: fake.token });
    const result = await flaky.act(SUBMIT, { workflowTemplate: 'train-model' }, 'flaky');
    expect(result.externalId).toBe(workflowNameFor('flaky'));
    expect(fake.allWorkflows()).toHaveLength(1);
    expect(sleeps[0]).toBe(1000);
    expect(sleeps).toHaveLength(faults.length);
  });

  it('a workflow deleted between the 409 and the read is submitted again', async () => {
    await session.act(SUBMIT, { workflowTemplate: 'train-model' }, 'gone');
    fake.deleteOnNextConflict = true;
    const again = await session.act(SUBMIT, { workflowTemplate: 'train-model' }, 'gone');
    expect(again.externalId).toBe(workflowNameFor('gone'));
    expect(fake.allWorkflows()).toHaveLength(1);
    expect(fake.requests.slice(1).map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
  });

  it('is idempotent only while the workflow exists: once deleted (its TTL), the same key submits anew', async () => {
    const first = await session.act(SUBMIT, { workflowTemplate: 'train-model' }, 'ttl');
    fake.deleteWorkflow(first.externalId);
    const second = await session.act(SUBMIT, { workflowTemplate: 'train-model' }, 'ttl');
    expect(second.externalId).toBe(first.externalId);
    expect((second.raw.metadata as { uid: string }).uid).not.toBe(
      (first.raw.metadata as { uid: string }).uid,
    );
  });

  it('names workflows within DNS-1123 and 63 characters, distinct for keys that fold alike', async () => {
    const keys = ['Order/42', 'order 42', 'ORDER.42', 'ключ', '', 'x'.repeat(300), '--a--'];
    const names = [];
    for (const key of keys)
      names.push((await session.act(SUBMIT, { workflowTemplate: 'score-batch' }, key)).externalId);
    expect(new Set(names).size).toBe(keys.length);
    for (const name of names) {
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(name.length).toBeLessThanOrEqual(63);
    }
    expect(fake.allWorkflows()).toHaveLength(keys.length);
  });

  it('without an idempotency key still submits once per call', async () => {
    const a = await session.act(SUBMIT, { workflowTemplate: 'score-batch' }, undefined);
    const b = await session.act(SUBMIT, { workflowTemplate: 'score-batch' }, undefined);
    expect(a.externalId).not.toBe(b.externalId);
    expect(fake.allWorkflows()).toHaveLength(2);
  });

  describe('refusals', () => {
    it('a bad token is PERMANENT, and the message holds no secret even when the server echoes it', async () => {
      fake.echoCredentials = true;
      const wrong = 'wrong-token.eyJzdWIiOiJtYWxsb3J5In0.0123456789';
      const error = await rejection(
        open(url, { token: wrong }).session.act(SUBMIT, { workflowTemplate: 'train-model' }, 'k'),
      );
      expect(error).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
      expect(error.message).toBe('Argo Workflows submit workflow answered 401: the credentials were refused');
      const checkError = await rejection(open(url, { token: `Bearer ${wrong}` }).session.check());
      expect(checkError).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
      for (const secret of [wrong, fake.token])
        expect(`${error.message} ${checkError.message}`).not.toContain(secret);
      expect(fake.allWorkflows()).toHaveLength(0);
    });

    it('no token, a revoked token and a service account that may not create workflows are PERMANENT', async () => {
      expect(await rejection(open(url).session.check())).toMatchObject({
        kind: 'PERMANENT',
        details: { status: 401 },
      });
      fake.readOnly = true;
      const forbidden = await rejection(session.act(SUBMIT, { workflowTemplate: 'train-model' }, 'k'));
      expect(forbidden).toMatchObject({ kind: 'PERMANENT', details: { status: 403 } });
      fake.revokeToken();
      expect(await rejection(session.check())).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
    });

    it('an unknown template is PERMANENT and names the input', async () => {
      const error = await rejection(session.act(SUBMIT, { workflowTemplate: 'nope' }, 'k'));
      expect(error).toMatchObject({ kind: 'PERMANENT', details: { field: 'input.workflowTemplate' } });
    });

    it('5xx until the retries run out is TEMPORARY', async () => {
      fake.faults.randomly(1, [{ kind: 'status', status: 503 }]);
      const error = await rejection(
        open(url, { token: fake.token, maxRetries: 2 }).session.act(
          SUBMIT,
          { workflowTemplate: 'train-model' },
          'k',
        ),
      );
      expect(error).toMatchObject({ kind: 'TEMPORARY', details: { status: 503 } });
    });

    it('an unknown action, a missing template or a parameter name with "=" is PERMANENT', async () => {
      expect(await rejection(session.act('submit', { workflowTemplate: 'x' }, 'k'))).toMatchObject({
        kind: 'PERMANENT',
      });
      expect(await rejection(session.act(SUBMIT, {}, 'k'))).toMatchObject({
        details: { field: 'submitWorkflow.workflowTemplate' },
      });
      expect(
        await rejection(
          session.act(SUBMIT, { workflowTemplate: 'train-model', parameters: { 'a=b': 1 } }, 'k'),
        ),
      ).toMatchObject({ kind: 'PERMANENT', details: { field: 'submitWorkflow.parameters' } });
      expect(fake.requests).toHaveLength(0);
    });
  });

  it('check lists one template of the namespace with the token', async () => {
    await session.check();
    expect(fake.requests).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/api/v1/workflow-templates/argo',
        query: { 'listOptions.limit': '1' },
        authorized: true,
      }),
    ]);
  });

  it('takes the token with its Bearer prefix too', async () => {
    await open(url, { token: `Bearer ${fake.token}` }).session.act(
      SUBMIT,
      { workflowTemplate: 'score-batch' },
      'k',
    );
    expect(fake.requests.every((r) => r.authorized)).toBe(true);
  });

  it('declares no streams', () => {
    expect(argo.streams).toEqual([]);
    expect(() => session.read('workflows', null)).toThrow(ConnectorError);
  });
});

describe('workflowNameFor', () => {
  it('is deterministic, DNS-1123, at most 63 characters, with a readable part of the key', () => {
    expect(workflowNameFor('Retrain-Churn')).toBe(workflowNameFor('Retrain-Churn'));
    expect(workflowNameFor('Retrain-Churn')).toMatch(/^nerve-retrain-churn-[0-9a-f]{16}$/);
    expect(workflowNameFor('Retrain-Churn')).not.toBe(workflowNameFor('retrain-churn'));
    expect(workflowNameFor('y'.repeat(500))).toHaveLength(63);
    expect(workflowNameFor('a'.repeat(39) + '-b')).toMatch(/^nerve-a{39}-[0-9a-f]{16}$/);
  });
});
