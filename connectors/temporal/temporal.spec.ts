import { openSession, rejection } from '../../test/fakes/connector-spec';
import type { OpenedSession } from '../../test/fakes/connector-spec';
import type { Fault } from '../../test/fakes/faults';
import { FakeTemporalServer } from '../../test/fakes/temporal-server';
import { ConnectorError } from '../_shared';
import type { ConnectorSession } from '../_shared';
import { requestIdFor, workflowIdFor } from './client';
import { temporal } from './index';

function open(
  baseUrl: string,
  options: { apiKey?: string; namespace?: string; maxRetries?: number } = {},
): OpenedSession {
  return openSession(
    temporal,
    { baseUrl, namespace: options.namespace ?? 'default' },
    { apiKey: options.apiKey },
    options,
  );
}

const START = 'startWorkflow';
const INPUT = { customerId: 'c-17', score: 0.91, escalate: true };
const WORKFLOW = { workflowType: 'RetentionOffer', taskQueue: 'offers', input: INPUT };

describe('Temporal connector against the fake Temporal HTTP API', () => {
  let fake: FakeTemporalServer;
  let url: string;
  let session: ConnectorSession;
  beforeEach(async () => {
    fake = new FakeTemporalServer();
    url = await fake.start();
    session = open(url, { apiKey: fake.apiKey }).session;
  });
  afterEach(async () => {
    await fake.close();
  });

  const starts = () => fake.requests.filter((r) => r.method === 'POST');

  it('starts a workflow with its type, task queue and input, the ids derived from the key', async () => {
    const result = await session.act(START, WORKFLOW, 'key-1');

    const [run] = fake.runs();
    expect(fake.runs()).toHaveLength(1);
    expect(run).toMatchObject({
      workflowId: 'nerve-key-1',
      requestIds: [requestIdFor('key-1')],
      workflowType: 'RetentionOffer',
      taskQueue: 'offers',
      args: [INPUT],
      identity: 'nerve',
      reusePolicy: 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE',
    });
    expect(result).toEqual({
      externalId: run.runId,
      stream: 'workflowRuns',
      raw: {
        workflowId: 'nerve-key-1',
        runId: run.runId,
        started: true,
        status: 'WORKFLOW_EXECUTION_STATUS_RUNNING',
      },
    });
    expect(starts()).toEqual([
      expect.objectContaining({
        path: '/api/v1/namespaces/default/workflows/nerve-key-1',
        authorized: true,
        body: {
          workflowType: { name: 'RetentionOffer' },
          taskQueue: { name: 'offers' },
          requestId: requestIdFor('key-1'),
          identity: 'nerve',
          workflowIdReusePolicy: 'WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE',
          // json/plain, as Temporal's default data converter writes a JSON argument.
          input: {
            payloads: [
              {
                metadata: { encoding: 'anNvbi9wbGFpbg==' },
                data: Buffer.from(JSON.stringify(INPUT)).toString('base64'),
              },
            ],
          },
        },
      }),
    ]);
  });

  it('sends no input when none is given', async () => {
    await session.act(START, { workflowType: 'Nightly', taskQueue: 'batch' }, 'no-input');
    expect(starts()[0].body).not.toHaveProperty('input');
    expect(fake.runs()[0].args).toEqual([]);
  });

  it('the same key twice starts one run: Temporal answers the repeated request id with the first run', async () => {
    const first = await session.act(START, WORKFLOW, 'same-key');
    const second = await session.act(START, WORKFLOW, 'same-key');
    expect(second.externalId).toBe(first.externalId);
    expect(fake.runs()).toHaveLength(1);
    expect(starts()).toHaveLength(2);
  });

  it('the same key after the run finished still gets that run, not a second one', async () => {
    const first = await session.act(START, WORKFLOW, 'finished');
    fake.closeRun('nerve-finished', 'COMPLETED');
    const again = await session.act(START, WORKFLOW, 'finished');
    expect(again.externalId).toBe(first.externalId);
    expect(again.raw.status).toBe('WORKFLOW_EXECUTION_STATUS_COMPLETED');
    expect(fake.runs()).toHaveLength(1);
  });

  it('the same key concurrently starts one run, and every caller gets it', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => session.act(START, WORKFLOW, 'concurrent')),
    );
    expect(new Set(results.map((r) => r.externalId)).size).toBe(1);
    expect(fake.runs()).toHaveLength(1);
  });

  it('a start whose reply was lost is retried and gets the run it started', async () => {
    fake.loseNextStartReply = true;
    const result = await session.act(START, WORKFLOW, 'lost');
    expect(fake.runs()).toHaveLength(1);
    expect(result.externalId).toBe(fake.runs()[0].runId);
    expect(starts()).toHaveLength(2);
  });

  it('retries 429 (honouring Retry-After), 5xx, a hang, a reset and a garbled reply; one run in the end', async () => {
    const faults: Fault[] = [
      {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '4' },
        body: { code: 8, message: 'namespace rate limit exceeded' },
      },
      { kind: 'status', status: 500, body: { code: 13, message: 'internal' } },
      { kind: 'status', status: 503, body: { code: 14, message: 'unavailable' } },
      { kind: 'hang' },
      { kind: 'reset' },
      { kind: 'malformed' },
    ];
    fake.faults.next(...faults);
    const { session: flaky, sleeps } = open(url, { apiKey: fake.apiKey });
    const result = await flaky.act(START, WORKFLOW, 'flaky');
    expect(fake.runs()).toHaveLength(1);
    expect(result.externalId).toBe(fake.runs()[0].runId);
    expect(sleeps[0]).toBe(4000);
    expect(sleeps).toHaveLength(faults.length);
  });

  it('when the id’s current run answers to another request (a reset), describes it and names the first run', async () => {
    const first = await session.act(START, WORKFLOW, 'was-reset');
    const reset = fake.resetRun('nerve-was-reset');
    const again = await session.act(START, WORKFLOW, 'was-reset');

    expect(again.externalId).toBe(first.externalId);
    expect(again.raw).toMatchObject({
      workflowExecutionInfo: {
        execution: { workflowId: 'nerve-was-reset', runId: reset.runId },
        firstRunId: first.externalId,
      },
    });
    expect(fake.requests.slice(-2).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/namespaces/default/workflows/nerve-was-reset',
      'GET /api/v1/namespaces/default/workflows/nerve-was-reset',
    ]);
    expect(fake.runs('nerve-was-reset')).toHaveLength(2);
  });

  it('gives distinct keys distinct workflow ids, also keys that need escaping', async () => {
    const keys = ['order/42', 'order 42', 'order?42', 'order:42', 'ключ', 'x'.repeat(300), 'plain-key_1.2'];
    for (const key of keys) await session.act(START, WORKFLOW, key);
    const ids = fake.runs().map((r) => r.workflowId);
    expect(new Set(ids).size).toBe(keys.length);
    expect(ids).toContain('nerve-plain-key_1.2');
    for (const id of ids) expect(id).toMatch(/^nerve-[A-Za-z0-9._-]+$/);
  });

  it('without an idempotency key still starts once per call', async () => {
    await session.act(START, WORKFLOW, undefined);
    await session.act(START, WORKFLOW, undefined);
    expect(fake.runs()).toHaveLength(2);
  });

  describe('refusals', () => {
    it('a bad API key is PERMANENT, and the message holds no secret even when the server echoes it', async () => {
      fake.echoCredentials = true;
      const wrong = 'wrong-temporal-key.0123456789abcdef';
      const error = await rejection(open(url, { apiKey: wrong }).session.act(START, WORKFLOW, 'k'));
      expect(error).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
      expect(error.message).toBe('Temporal start workflow answered 401: the credentials were refused');
      const checkError = await rejection(open(url, { apiKey: wrong }).session.check());
      expect(checkError).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
      for (const secret of [wrong, fake.apiKey])
        expect(`${error.message} ${checkError.message}`).not.toContain(secret);
      expect(fake.runs()).toHaveLength(0);
    });

    it('no key, a revoked key and a key without the right to start are PERMANENT', async () => {
      expect(await rejection(open(url).session.check())).toMatchObject({
        kind: 'PERMANENT',
        details: { status: 401 },
      });
      expect(fake.requests[0]).toMatchObject({ authorized: false });
      fake.readOnly = true;
      expect(await rejection(session.act(START, WORKFLOW, 'k'))).toMatchObject({
        kind: 'PERMANENT',
        details: { status: 403 },
      });
      fake.revokeKey();
      expect(await rejection(session.check())).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
    });

    it('an unknown namespace is PERMANENT and names the config field', async () => {
      const { session: elsewhere } = open(url, { apiKey: fake.apiKey, namespace: 'prod' });
      expect(await rejection(elsewhere.check())).toMatchObject({
        kind: 'PERMANENT',
        details: { field: 'config.namespace' },
      });
      expect(await rejection(elsewhere.act(START, WORKFLOW, 'k'))).toMatchObject({
        details: { field: 'config.namespace' },
      });
    });

    it('5xx until the retries run out is TEMPORARY', async () => {
      fake.faults.randomly(1, [{ kind: 'status', status: 503, body: { code: 14, message: 'unavailable' } }]);
      const error = await rejection(
        open(url, { apiKey: fake.apiKey, maxRetries: 2 }).session.act(START, WORKFLOW, 'k'),
      );
      expect(error).toMatchObject({ kind: 'TEMPORARY', details: { status: 503 } });
    });

    it('an unknown action or a missing type or task queue is PERMANENT', async () => {
      expect(await rejection(session.act('start', WORKFLOW, 'k'))).toMatchObject({ kind: 'PERMANENT' });
      expect(await rejection(session.act(START, { taskQueue: 'q' }, 'k'))).toMatchObject({
        details: { field: 'startWorkflow.workflowType' },
      });
      expect(await rejection(session.act(START, { workflowType: 'W' }, 'k'))).toMatchObject({
        details: { field: 'startWorkflow.taskQueue' },
      });
      expect(fake.requests).toHaveLength(0);
    });
  });

  it('check describes the namespace with the key', async () => {
    await session.check();
    expect(fake.requests).toEqual([
      expect.objectContaining({ method: 'GET', path: '/api/v1/namespaces/default', authorized: true }),
    ]);
  });

  it('declares no streams', () => {
    expect(temporal.streams).toEqual([]);
    expect(() => session.read('workflowRuns', null)).toThrow(ConnectorError);
  });
});

describe('Temporal ids from the idempotency key', () => {
  it('requestIdFor is a stable UUID per key', () => {
    expect(requestIdFor('k')).toBe(requestIdFor('k'));
    expect(requestIdFor('k')).not.toBe(requestIdFor('k2'));
    expect(requestIdFor('k')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('workflowIdFor keeps plain keys readable and hashes the others', () => {
    expect(workflowIdFor('3f1c-uuid')).toBe('nerve-3f1c-uuid');
    expect(workflowIdFor('a/b')).toMatch(/^nerve-a-b-[0-9a-f]{32}$/);
    expect(workflowIdFor('a/b')).not.toBe(workflowIdFor('a b'));
    // The hub's automation step keys: the `:` would read as a grpc-gateway verb in the path.
    expect(workflowIdFor('automation-run:1b4e28ba-2fa1-11d2-883f-0016d3cca427:0')).toMatch(
      /^nerve-automation-run-1b4e28ba-2fa1-11d2-883f-0016d3cca427-0-[0-9a-f]{32}$/,
    );
  });
});
