import fs from 'node:fs';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Role } from '../../src/modules/api-keys/api-key.entity';
import { AlertKind, AlertSeverity } from '../../src/modules/alerts/alert.entity';
import { linearClassifierOnnx, uploadArtifact } from '../factories/onnx';
import { startTestHub, unique, type TestHub } from '../harness';
import { startHubProcess, type HubProcess } from '../support/hub-process';
import { REDIS_URL, redisReachable } from '../support/redis';
import { init } from '../support/ws';

const reachable = redisReachable();
if (!reachable) console.warn(`Skipping the replicas suite: no Redis answers at ${REDIS_URL}.`);
const describeRedis = reachable ? describe : describe.skip;

/** A second hub in its own process, sharing the test database and Redis. */
const startReplica = (): Promise<HubProcess> => startHubProcess({ REDIS_URL });

function firstEvent(client: Client, query: string, variables: Record<string, unknown>) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    client.subscribe(
      { query, variables },
      {
        next: (result) =>
          result.errors ? reject(new Error(JSON.stringify(result.errors))) : resolve(result.data!),
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => reject(new Error('completed without an event')),
      },
    );
  });
}

describeRedis('two hub processes sharing PostgreSQL and Redis', () => {
  let hub: TestHub;
  let replica: Awaited<ReturnType<typeof startReplica>>;
  let key: string;
  let project: { id: string; slug: string };
  let endpoint: string;
  const clients: Client[] = [];
  const ws = (url: string): Client => {
    const client = createClient({
      url: url.replace('http://', 'ws://'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      retryAttempts: 0,
    });
    clients.push(client);
    return client;
  };
  /** Waits until `count` subscriptions are live on the in-process hub and Redis confirmed them. */
  const live = async (count: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (hub.services.events.subscribers < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await (hub.services.events as { settled?: () => Promise<void> }).settled?.();
  };

  beforeAll(async () => {
    [hub, replica] = await Promise.all([startTestHub({ redisUrl: REDIS_URL }), startReplica()]);
    key = await hub.key(Role.ADMIN);
    project = (
      await hub.gql<{ createProject: { id: string; slug: string } }>(
        'mutation($i: CreateProjectInput!) { createProject(input: $i) { id slug } }',
        { i: { slug: unique('replicas'), name: 'Replicas' } },
      )
    ).data!.createProject;
    const dataset = await hub.gql<{ createDataset: { id: string } }>(
      'mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }',
      { i: { project: project.slug, name: 'reference' } },
    );
    const rows = Array.from({ length: 200 }, (_, i) => ({ x: i % 17, y: (i * 7) % 23 }));
    const version = await hub.gql<{ registerDatasetVersion: { id: string } }>(
      'mutation($i: RegisterDatasetVersionInput!) { registerDatasetVersion(input: $i) { id } }',
      { i: { datasetId: dataset.data!.createDataset.id, rows } },
    );
    const model = await hub.gql<{ createModel: { id: string } }>(
      'mutation($i: CreateModelInput!) { createModel(input: $i) { id } }',
      { i: { project: project.slug, name: 'm', task: 'CLASSIFICATION' } },
    );
    const sha = await uploadArtifact(hub, linearClassifierOnnx({ features: 2, classes: 2 }), project.slug);
    await hub.gql('mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { id } }', {
      i: {
        modelId: model.data!.createModel.id,
        artifactSha256: sha,
        featureNames: ['x', 'y'],
        datasetVersionId: version.data!.registerDatasetVersion.id,
      },
    });
    endpoint = unique('shared');
    const created = await hub.gql('mutation($i: CreateEndpointInput!) { createEndpoint(input: $i) { id } }', {
      i: { project: project.slug, name: endpoint, model: 'm', version: 1 },
    });
    expect(created.errors).toBeUndefined();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    if (replica) {
      const exited = new Promise((resolve) => replica.child.once('exit', resolve));
      replica.child.kill('SIGTERM');
      await exited;
      fs.rmSync(replica.dataDir, { recursive: true, force: true });
    }
    await hub?.close();
  });

  it('delivers a drift report made on the other process to a subscriber here', async () => {
    const received = firstEvent(
      ws(hub.url),
      'subscription($p: String!) { driftReported(project: $p) { endpointId sampleSize insufficient } }',
      { p: project.slug },
    );
    await live(1);
    const res = await fetch(replica.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        query: 'mutation($e: String!) { runDriftCheck(endpoint: $e) { id } }',
        variables: { e: endpoint },
      }),
    });
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
    expect(await received).toMatchObject({ driftReported: { sampleSize: 0, insufficient: true } });
  });

  it('delivers an alert raised here to a subscriber of the other process (through the shared outbox)', async () => {
    const received = firstEvent(
      ws(replica.url),
      'subscription($p: String!) { alertRaised(project: $p) { change alert { title openedAt } } }',
      { p: project.slug },
    );
    // The replica has subscribed once its /metrics counts a live subscription.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const metrics = await fetch(replica.url.replace(/\/graphql$/, '/metrics'), {
        headers: { authorization: `Bearer ${key}` },
      }).then((r) => r.text());
      if (/^nerve_subscriptions [1-9]/m.test(metrics)) break;
      if (Date.now() > deadline) throw new Error('the replica never subscribed');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await hub.services.alerts.raise({
      projectId: project.id,
      kind: AlertKind.SLA_ERROR_RATE,
      severity: AlertSeverity.CRITICAL,
      dedupeKey: unique('cross'),
      title: 'raised on one replica',
      evidence: {},
    });
    const event = (await received) as {
      alertRaised: { change: string; alert: { title: string; openedAt: string } };
    };
    expect(event.alertRaised.change).toBe('RAISED');
    expect(event.alertRaised.alert.title).toBe('raised on one replica');
    expect(Number.isNaN(Date.parse(event.alertRaised.alert.openedAt))).toBe(false);
  });

  it('closes the sockets of a key revoked here on the other process, and forgets it there', async () => {
    const created = await hub.gqlOk<{ createApiKey: { secret: string; key: { id: string } } }>(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret key { id } } }',
      { i: { name: unique('revoked'), role: 'VIEWER' } },
    );
    const { secret, key: revoked } = created.createApiKey;
    const there = await init(replica.url, { authorization: `Bearer ${secret}` });
    expect(there.acked).toBe(true);
    // An answered operation first: the replica serves this key (and has it in its key cache).
    there.socket.send(JSON.stringify({ id: 'me', type: 'subscribe', payload: { query: '{ me { role } }' } }));
    there.socket.send(
      JSON.stringify({
        id: 'alerts',
        type: 'subscribe',
        payload: {
          query: 'subscription($p: String!) { alertRaised(project: $p) { change } }',
          variables: { p: project.slug },
        },
      }),
    );
    while (!there.messages.some((m) => m.id === 'me' && m.type === 'complete')) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(there.messages[0]).toEqual({
      id: 'me',
      type: 'next',
      payload: { data: { me: { role: 'VIEWER' } } },
    });

    await hub.gqlOk('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: revoked.id });
    expect(await there.closed).toEqual({ code: 4403, reason: 'API key revoked' });
    // Well within the replica's 5 s key cache: it dropped the key when it heard of the revocation.
    const res = await fetch(replica.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query: '{ me { role } }' }),
    });
    expect(res.status).toBe(401);
  });
});
