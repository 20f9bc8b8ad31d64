import { FakeAirflowServer } from '../../test/fakes/airflow-server';
import { openSession, rejection } from '../../test/fakes/connector-spec';
import type { OpenedSession } from '../../test/fakes/connector-spec';
import type { Fault } from '../../test/fakes/faults';
import { ConnectorError } from '../_shared';
import { dagRunIdFor } from './client';
import { airflow } from './index';

function open(
  baseUrl: string,
  secrets: Record<string, string>,
  options: { maxRetries?: number } = {},
): OpenedSession {
  return openSession(airflow, { baseUrl }, secrets, options);
}

const TRIGGER = 'triggerDagRun';
const CONF = { date: '2024-06-01', full: true, shards: 3 };

describe('Airflow connector against the fake Airflow', () => {
  let fake: FakeAirflowServer;
  let url: string;
  let basic: Record<string, string>;
  beforeEach(async () => {
    fake = new FakeAirflowServer();
    url = await fake.start();
    basic = { username: fake.username, password: fake.password };
  });
  afterEach(async () => {
    await fake.close();
  });

  const posts = () => fake.requests.filter((r) => r.method === 'POST');

  it('triggers a DAG run with its conf and note, the run id derived from the key', async () => {
    const { session } = open(url, basic);
    const result = await session.act(
      TRIGGER,
      { dagId: 'etl_daily', conf: CONF, note: 'from nerve' },
      'key-1',
    );

    expect(result.externalId).toBe('nerve__key-1');
    expect(result.stream).toBe('dagRuns');
    expect(result.raw).toMatchObject({
      dag_id: 'etl_daily',
      dag_run_id: 'nerve__key-1',
      conf: CONF,
      state: 'queued',
    });
    expect(fake.dagRuns()).toEqual([
      expect.objectContaining({
        dagId: 'etl_daily',
        dagRunId: 'nerve__key-1',
        conf: CONF,
        note: 'from nerve',
      }),
    ]);
    expect(posts()).toEqual([
      expect.objectContaining({
        path: '/api/v1/dags/etl_daily/dagRuns',
        body: { dag_run_id: 'nerve__key-1', conf: CONF, note: 'from nerve' },
        auth: 'basic',
        authorized: true,
      }),
    ]);
  });

  it('sends an empty conf and no note when none is given, and authenticates with a bearer token', async () => {
    const { session } = open(url, { token: fake.token });
    await session.act(TRIGGER, { dagId: 'train_model' }, 'key-2');
    expect(posts()[0]).toMatchObject({ body: { dag_run_id: 'nerve__key-2', conf: {} }, auth: 'bearer' });
  });

  it('the same key twice starts one run: the second trigger meets 409 and reads the first run', async () => {
    const { session } = open(url, basic);
    const first = await session.act(TRIGGER, { dagId: 'etl_daily', conf: CONF }, 'same-key');
    const second = await session.act(TRIGGER, { dagId: 'etl_daily', conf: CONF }, 'same-key');

    expect(second.externalId).toBe(first.externalId);
    expect(second.raw).toEqual(first.raw);
    expect(fake.dagRuns()).toHaveLength(1);
    expect(fake.requests.slice(1).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/v1/dags/etl_daily/dagRuns',
      'GET /api/v1/dags/etl_daily/dagRuns/nerve__same-key',
    ]);
  });

  it('the same key concurrently starts one run, and every caller gets it', async () => {
    const { session } = open(url, basic);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => session.act(TRIGGER, { dagId: 'etl_daily', conf: CONF }, 'concurrent')),
    );
    expect(new Set(results.map((r) => r.externalId))).toEqual(new Set(['nerve__concurrent']));
    expect(fake.dagRuns()).toHaveLength(1);
  });

  it('a trigger whose reply was lost is retried and finds the run it started', async () => {
    fake.loseNextTriggerReply = true;
    const { session } = open(url, basic);
    const result = await session.act(TRIGGER, { dagId: 'etl_daily', conf: CONF }, 'lost-reply');

    expect(result.externalId).toBe('nerve__lost-reply');
    expect(result.raw.conf).toEqual(CONF);
    expect(fake.dagRuns()).toHaveLength(1);
    expect(fake.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'GET']);
  });

  it('retries 429 (honouring Retry-After), 5xx, a hang, a reset and a garbled reply; one run in the end', async () => {
    const faults: Fault[] = [
      { kind: 'status', status: 429, headers: { 'retry-after': '2' } },
      { kind: 'status', status: 500, body: { detail: 'boom', status: 500, title: 'Internal Server Error' } },
      { kind: 'status', status: 503 },
      { kind: 'hang' },
      { kind: 'reset' },
      { kind: 'malformed' },
    ];
    fake.faults.next(...faults);
    const { session, sleeps } = open(url, basic);
    const result = await session.act(TRIGGER, { dagId: 'etl_daily', conf: CONF }, 'flaky');

    expect(result.externalId).toBe('nerve__flaky');
    expect(fake.dagRuns()).toHaveLength(1);
    expect(sleeps[0]).toBe(2000);
    expect(sleeps).toHaveLength(faults.length);
  });

  it('a 409 on the logical date (another trigger in the same microsecond) sends the trigger again', async () => {
    fake.logicalDateConflictNext = true;
    const { session } = open(url, basic);
    const result = await session.act(TRIGGER, { dagId: 'etl_daily' }, 'date-clash');
    expect(result.externalId).toBe('nerve__date-clash');
    expect(fake.dagRuns()).toHaveLength(1);
    expect(fake.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
  });

  it('gives distinct keys distinct runs, also keys Airflow’s run ids cannot spell', async () => {
    const { session } = open(url, basic);
    const keys = ['order/42', 'order 42', 'Order.42', 'a..b', 'ключ-1', 'x'.repeat(300)];
    const ids = [];
    for (const key of keys) ids.push((await session.act(TRIGGER, { dagId: 'etl_daily' }, key)).externalId);
    expect(new Set(ids).size).toBe(keys.length);
    expect(fake.dagRuns()).toHaveLength(keys.length);
    // Each is accepted by Airflow's default allowed_run_id_pattern (the fake enforces it).
    for (const id of ids) expect(id).toMatch(/^nerve__[A-Za-z0-9_.~:+-]+$/);
  });

  it('without an idempotency key still triggers once per call', async () => {
    const { session } = open(url, basic);
    const a = await session.act(TRIGGER, { dagId: 'etl_daily' }, undefined);
    const b = await session.act(TRIGGER, { dagId: 'etl_daily' }, undefined);
    expect(a.externalId).not.toBe(b.externalId);
    expect(fake.dagRuns()).toHaveLength(2);
  });

  describe('refusals', () => {
    it('bad credentials are PERMANENT, and the message holds no secret even when Airflow echoes it', async () => {
      fake.echoCredentials = true;
      const wrong = { username: fake.username, password: 'wrong-password-0123456789' };
      const error = await rejection(open(url, wrong).session.act(TRIGGER, { dagId: 'etl_daily' }, 'k'));
      expect(error.kind).toBe('PERMANENT');
      expect(error.details.status).toBe(401);
      expect(error.message).toBe('Airflow trigger DAG run answered 401: the credentials were refused');
      const checkError = await rejection(open(url, { token: 'not-the-token-0123456789' }).session.check());
      expect(checkError).toMatchObject({ kind: 'PERMANENT', details: { status: 401 } });
      for (const secret of ['wrong-password-0123456789', 'not-the-token-0123456789', fake.password])
        expect(`${error.message} ${checkError.message}`).not.toContain(secret);
      expect(fake.dagRuns()).toHaveLength(0);
    });

    it('revoked credentials and a user without the right to trigger are PERMANENT', async () => {
      fake.readOnly = true;
      const forbidden = await rejection(open(url, basic).session.act(TRIGGER, { dagId: 'etl_daily' }, 'k'));
      expect(forbidden).toMatchObject({ kind: 'PERMANENT', details: { status: 403 } });
      fake.revokeCredentials();
      expect(await rejection(open(url, basic).session.check())).toMatchObject({ kind: 'PERMANENT' });
    });

    it('an unknown DAG is PERMANENT and names the input', async () => {
      const error = await rejection(open(url, basic).session.act(TRIGGER, { dagId: 'nope' }, 'k'));
      expect(error).toMatchObject({ kind: 'PERMANENT', details: { field: 'input.dagId' } });
      expect(error.message).toContain('nope');
    });

    it('missing credentials are PERMANENT before any request', async () => {
      const error = await rejection(
        open(url, { username: 'only-a-user' }).session.act(TRIGGER, { dagId: 'etl_daily' }, 'k'),
      );
      expect(error).toMatchObject({ kind: 'PERMANENT', details: { field: 'secrets' } });
      expect(fake.requests).toHaveLength(0);
    });

    it('5xx until the retries run out is TEMPORARY', async () => {
      fake.faults.randomly(1, [{ kind: 'status', status: 502 }]);
      const error = await rejection(
        open(url, basic, { maxRetries: 2 }).session.act(TRIGGER, { dagId: 'etl_daily' }, 'k'),
      );
      expect(error).toMatchObject({ kind: 'TEMPORARY', details: { status: 502 } });
    });

    it('an unknown action, a missing DAG id or an unknown input is PERMANENT', async () => {
      const { session } = open(url, basic);
      expect(await rejection(session.act('runDag', { dagId: 'x' }, 'k'))).toMatchObject({
        kind: 'PERMANENT',
      });
      expect(await rejection(session.act(TRIGGER, {}, 'k'))).toMatchObject({
        details: { field: 'triggerDagRun.dagId' },
      });
      expect(
        await rejection(session.act(TRIGGER, { dagId: 'etl_daily', logical_date: 'x' }, 'k')),
      ).toMatchObject({
        kind: 'PERMANENT',
      });
      expect(fake.requests).toHaveLength(0);
    });
  });

  it('check lists one DAG with the credentials', async () => {
    await open(url, basic).session.check();
    expect(fake.requests).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/api/v1/dags',
        query: { limit: '1' },
        authorized: true,
      }),
    ]);
  });

  it('declares no streams, and reading one is PERMANENT', () => {
    expect(airflow.streams).toEqual([]);
    expect(() => open(url, basic).session.read('dagRuns', null)).toThrow(ConnectorError);
  });
});

describe('dagRunIdFor', () => {
  it('is nerve__<key> for a key of run id characters, and the same for the same key', () => {
    expect(dagRunIdFor('3f1c-uuid:1')).toBe('nerve__3f1c-uuid:1');
    expect(dagRunIdFor('k/1')).toBe(dagRunIdFor('k/1'));
  });

  it('hashes keys with other characters, `..`, or too long, into Airflow’s pattern and 250 characters', () => {
    for (const key of ['a b', 'a/b', 'a..b', 'é', '', 'x'.repeat(400)]) {
      const id = dagRunIdFor(key);
      expect(id).toMatch(/^nerve__[A-Za-z0-9_~:+-]*[0-9a-f]{32}$/);
      expect(id.length).toBeLessThanOrEqual(250);
      expect(id).not.toContain('..');
    }
    expect(dagRunIdFor('a b')).not.toBe(dagRunIdFor('a/b'));
  });
});
