import { createHmac } from 'node:crypto';
import { FakeUiPathServer } from '../../test/fakes/uipath-server';
import { WebhookSink, receiveLikeTheHub } from '../../test/fakes/vendor-webhook';
import { refusal, thrownBy } from '../../test/fakes/connector-spec';
import type { ConfigValues, WebhookRequest } from '../_shared/contract';
import type { QueueItemRecord, RpaJobRecord } from '../_shared/records';
import { validateFields } from '../_shared/validate';
import { uipath } from './index';
import { uipathWebhook } from './webhook';

const SECRET = 'orchestrator-webhook-secret-0123456789';
const FOLDER = 7;
const CONFIG: ConfigValues = {
  orchestratorUrl: 'https://cloud.uipath.com/acme/DefaultTenant/orchestrator_',
  identityUrl: 'https://cloud.uipath.com/acme/identity_',
  folderId: FOLDER,
  requestKeyField: 'NerveRequestKey',
};
const NOW = new Date('2025-05-07T09:14:00Z');

/** Event payloads in the documented shapes (Orchestrator's "Types of events"), values our own. */
const JOB_COMPLETED = {
  Type: 'job.completed',
  EventId: '15412ff77dce4d489fc32c273862839b',
  Timestamp: '2025-05-07T09:13:45.7401303Z',
  Job: {
    Id: 38967597,
    Key: '374ba45a-6bf5-4f0a-9ed8-571fe5378db5',
    State: 'Successful',
    StartTime: '2025-05-07T09:13:40.433Z',
    EndTime: '2025-05-07T09:13:45.2861846Z',
    Info: 'Job completed',
    OutputArguments: { sum: 150 },
    Robot: { Id: 4778, Name: 'DocBot', MachineName: 'PC-DOC' },
    Release: { Id: 357, Key: '6205f5a8-d762-4feb-98ec-d43534ef9f89', ProcessKey: 'Args_AddNumbers' },
  },
  TenantId: 1,
  OrganizationUnitId: FOLDER,
};

const JOB_CREATED = {
  Type: 'job.created',
  EventId: '307348658',
  Timestamp: '2025-05-07T09:13:45.7401303Z',
  StartInfo: {
    ReleaseKey: '39f0a0ea-aa44-406e-9525-a02ae9a92201',
    Strategy: 'ModernJobsCount',
    JobsCount: 2,
  },
  Jobs: [
    {
      Id: 101,
      Key: 'a1',
      State: 'Pending',
      Source: 'Manual',
      SourceType: 'Manual',
      ReleaseName: 'Invoices_Main',
      Type: 'Unattended',
      Release: { Id: 16090, Key: '39f0a0ea', ProcessKey: 'Invoices', Name: 'Invoices_Main' },
      InputArguments: '{"InvoiceId":"INV-1","NerveRequestKey":"req-17"}',
      OutputArguments: null,
    },
    {
      Id: 102,
      Key: 'a2',
      State: 'Pending',
      ReleaseName: 'Invoices_Main',
      Type: 'Unattended',
      InputArguments: null,
      OutputArguments: null,
    },
  ],
  TenantId: 1,
  UserId: 2,
};

const ITEM_COMPLETED = {
  Type: 'queueItem.transactionCompleted',
  EventId: '916b1272c7714e92987788cab760cff3',
  Timestamp: '2025-05-07T09:13:45.3948142Z',
  QueueItem: {
    Id: 22193,
    Key: '398a6d1f-615f-499c-86d3-ee325ab865b4',
    QueueDefinitionId: 40014,
    Status: 'Successful',
    ReviewStatus: 'None',
    Reference: 'INV-1',
    Priority: 'High',
    CreationTime: '2025-05-07T09:00:18.127Z',
    StartProcessing: '2025-05-07T09:13:40.127Z',
    EndProcessing: '2025-05-07T09:13:45.3858151Z',
    SecondsInPreviousAttempts: 0,
    RetryNumber: 0,
    SpecificContent: { Amount: 125.5, NerveRequestKey: 'req-18' },
    Output: { Approved: true },
  },
  Queue: {
    Id: 40014,
    Name: 'Invoices',
    Description: '',
    MaxNumberOfRetries: 0,
    AcceptAutomaticallyRetry: false,
    EnforceUniqueReference: true,
  },
  TenantId: 1,
  UserId: 4947,
};

/** Signs as Orchestrator documents it: base64(HMAC-SHA256(secret, body)). */
function signed(
  body: string,
  options: { secret?: string; headers?: Record<string, string | undefined> } = {},
): WebhookRequest {
  const signature = createHmac('sha256', options.secret ?? SECRET)
    .update(body, 'utf8')
    .digest('base64');
  return {
    method: 'POST',
    url: 'https://hub.example.com/webhooks/uipath/c1',
    headers: { 'content-type': 'application/json', 'x-uipath-signature': signature, ...options.headers },
    body: Buffer.from(body, 'utf8'),
  };
}

describe('UiPath webhook verify', () => {
  const body = JSON.stringify(JOB_COMPLETED);

  it('accepts a signature computed by the documented recipe, the body’s Timestamp within five minutes', () => {
    expect(uipathWebhook.verify(signed(body), SECRET, NOW)).toEqual({ ok: true });
    const at = Date.parse(JOB_COMPLETED.Timestamp);
    expect(uipathWebhook.verify(signed(body), SECRET, new Date(at + 300_000)).ok).toBe(true);
    expect(uipathWebhook.verify(signed(body), SECRET, new Date(at - 300_000)).ok).toBe(true);
  });

  it('refuses a tampered body, a wrong secret, a stale or future event and a missing header with 401', () => {
    const good = signed(body);
    const at = (timestamp: string) => signed(JSON.stringify({ ...JOB_COMPLETED, Timestamp: timestamp }));
    const cases: [string, WebhookRequest, string][] = [
      ['tampered body', { ...good, body: Buffer.from(body.replace('Successful', 'Faulted')) }, SECRET],
      // The time is inside the signed body: a replay cannot be freshened without the secret.
      [
        'Timestamp moved',
        { ...good, body: Buffer.from(body.replace('2025-05-07T09:13:45', '2025-05-07T09:13:50')) },
        SECRET,
      ],
      ['wrong secret', signed(body, { secret: 'another-secret-0123456789' }), SECRET],
      ['stale', at('2025-05-07T09:08:59.9999999Z'), SECRET],
      ['future', at('2025-05-07T09:19:00.0010000Z'), SECRET],
      ['no signature', signed(body, { headers: { 'x-uipath-signature': undefined } }), SECRET],
      ['no secret configured', good, ''],
    ];
    for (const [name, request, secret] of cases) {
      const verdict = uipathWebhook.verify(request, secret, NOW);
      expect({ name, ...refusal(verdict) }).toEqual({ name, status: 401 });
      if (!verdict.ok) {
        expect(verdict.reason).not.toContain(SECRET);
        expect(verdict.reason).not.toContain(String(good.headers['x-uipath-signature']));
      }
    }
  });

  it('refuses a malformed signature, and a signed body without a usable Timestamp, with 400', () => {
    const { Timestamp: _t, ...untimed } = JOB_COMPLETED;
    const cases: [string, WebhookRequest][] = [
      ['signature not base64', signed(body, { headers: { 'x-uipath-signature': 'sha256=abc' } })],
      ['signature in hex', signed(body, { headers: { 'x-uipath-signature': 'ab'.repeat(32) } })],
      ['no Timestamp', signed(JSON.stringify(untimed))],
      ['Timestamp not ISO 8601', signed(JSON.stringify({ ...JOB_COMPLETED, Timestamp: '2025-05-07 09:13' }))],
      ['not JSON', signed('Type=job.completed')],
    ];
    for (const [name, request] of cases) {
      const verdict = uipathWebhook.verify(request, SECRET, NOW);
      expect({ name, ...refusal(verdict) }).toEqual({ name, status: 400 });
    }
  });
});

describe('UiPath webhook parse', () => {
  const parse = (event: unknown, config = CONFIG) =>
    uipathWebhook.parse(signed(JSON.stringify(event)), config);

  it('maps a job event’s Job with the sync’s mapper, the event time as its last change', () => {
    const [delivery] = parse(JOB_COMPLETED);
    expect(delivery).toMatchObject({
      deliveryId: JOB_COMPLETED.EventId,
      eventType: 'job.completed',
      refs: [],
    });
    expect(delivery.records).toEqual([
      {
        stream: 'jobs',
        record: {
          kind: 'rpa_job',
          externalId: '38967597',
          updatedAt: new Date('2025-05-07T09:13:45.740Z'),
          createdAt: new Date('2025-05-07T09:13:45.740Z'),
          requestKey: null,
          raw: JOB_COMPLETED.Job,
          state: 'Successful',
          releaseName: null,
          robotName: 'DocBot',
          startedAt: new Date('2025-05-07T09:13:40.433Z'),
          endedAt: new Date('2025-05-07T09:13:45.286Z'),
        },
      },
    ]);
  });

  it('maps every job of Jobs, with release names and request keys where the event has them', () => {
    const [delivery] = parse(JOB_CREATED);
    const records = delivery.records.map((r) => r.record as RpaJobRecord);
    expect(delivery.records.map((r) => r.stream)).toEqual(['jobs', 'jobs']);
    expect(records.map((r) => [r.externalId, r.state, r.releaseName, r.requestKey])).toEqual([
      ['101', 'Pending', 'Invoices_Main', 'req-17'],
      ['102', 'Pending', 'Invoices_Main', null],
    ]);
    // One object where the docs show a list (some revisions print `Jobs` so) reads the same.
    expect(parse({ ...JOB_CREATED, Jobs: JOB_CREATED.Jobs[0] })[0].records).toHaveLength(1);
  });

  it('maps a queue item event, naming its queue from the event', () => {
    const [delivery] = parse(ITEM_COMPLETED);
    expect(delivery.records).toEqual([
      {
        stream: 'queueItems',
        record: {
          kind: 'queue_item',
          externalId: '22193',
          updatedAt: new Date('2025-05-07T09:13:45.394Z'),
          createdAt: new Date('2025-05-07T09:00:18.127Z'),
          requestKey: 'req-18',
          raw: ITEM_COMPLETED.QueueItem,
          queueName: 'Invoices',
          reference: 'INV-1',
          status: 'Successful',
          priority: 'High',
          startedAt: new Date('2025-05-07T09:13:40.127Z'),
          endedAt: new Date('2025-05-07T09:13:45.385Z'),
        },
      },
    ]);
    const added = {
      ...ITEM_COMPLETED,
      Type: 'queueItem.added',
      QueueItem: undefined,
      QueueItems: [{ ...ITEM_COMPLETED.QueueItem, Status: 'New', LastModificationTime: null }],
    };
    expect(parse(added)[0].records[0].record).toMatchObject({ status: 'New', queueName: 'Invoices' });
    const unnamed = parse({ ...ITEM_COMPLETED, Queue: undefined })[0].records[0].record as QueueItemRecord;
    expect(unnamed.queueName).toBeNull();
  });

  it('keeps a LastModificationTime the event does carry', () => {
    const job = { ...JOB_COMPLETED.Job, LastModificationTime: '2025-05-07T09:13:45.1234567Z' };
    expect(parse({ ...JOB_COMPLETED, Job: job })[0].records[0].record.updatedAt).toEqual(
      new Date('2025-05-07T09:13:45.123Z'),
    );
  });

  it('carries nothing for another folder, nor for events it does not model', () => {
    const empty = (event: { Type: string; EventId: string }) => [
      { deliveryId: event.EventId, eventType: event.Type, records: [], refs: [] },
    ];
    const elsewhere = { ...JOB_COMPLETED, OrganizationUnitId: 8 };
    expect(parse(elsewhere)).toEqual(empty(elsewhere));
    const newer = { ...ITEM_COMPLETED, FolderId: 8 };
    expect(parse(newer)).toEqual(empty(newer));
    const itemElsewhere = {
      ...ITEM_COMPLETED,
      QueueItem: { ...ITEM_COMPLETED.QueueItem, OrganizationUnitId: 8 },
    };
    expect(parse(itemElsewhere)).toEqual(empty(itemElsewhere));
    const robot = {
      Type: 'robot.created',
      EventId: 'a1f904c0de844dd1811581a176dde54f',
      Timestamp: '2025-05-07T09:13:45.7401303Z',
      Robots: [{ Id: 5769, Name: 'TestDocBot' }],
      TenantId: 1,
    };
    expect(parse(robot)).toEqual(empty(robot));
    // Without a folder in the config, nothing is filtered.
    expect(parse(elsewhere, { ...CONFIG, folderId: undefined })[0].records).toHaveLength(1);
  });

  it('refuses a malformed body with a PERMANENT error naming what is wrong', () => {
    const cases: [() => unknown, string][] = [
      [() => uipathWebhook.parse(signed('{"Type":'), CONFIG), 'the body is not a JSON object'],
      [() => parse({ ...JOB_COMPLETED, Type: '' }), 'the event has no Type'],
      [() => parse({ ...JOB_COMPLETED, EventId: undefined }), 'job.completed: the event has no EventId'],
      [() => parse({ ...JOB_COMPLETED, Timestamp: 'yesterday' }), 'has no ISO 8601 Timestamp'],
      [() => parse({ ...JOB_COMPLETED, Job: 'job' }), 'Job is not an object'],
      [() => parse({ ...JOB_CREATED, Jobs: [JOB_CREATED.Jobs[0], 7] }), 'Jobs[1] is not an object'],
      [() => parse({ ...JOB_COMPLETED, Job: { ...JOB_COMPLETED.Job, Id: undefined } }), 'Job has no Id'],
    ];
    for (const [fn, message] of cases) {
      const error = thrownBy(fn);
      expect(error.kind).toBe('PERMANENT');
      expect(error.message).toContain(message);
    }
  });
});

describe('UiPath webhooks from the fake', () => {
  const closing: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(closing.splice(0).map((c) => c.close()));
  });

  async function setUp() {
    const fake = new FakeUiPathServer({ jobs: 20, queueItems: 20, folderId: FOLDER });
    const urls = await fake.start();
    const config = validateFields(uipath.spec.config, { ...urls, folderId: FOLDER }, 'config');
    const hub = receiveLikeTheHub(uipathWebhook, SECRET, config);
    const sink = new WebhookSink(hub.answer);
    const url = `${await sink.start()}/webhooks/uipath/c1`;
    closing.push(fake, sink);
    return { fake, hub, url };
  }

  it('delivers job and queue item changes mapped as the sync maps them', async () => {
    const { fake, hub, url } = await setUp();
    const [jobId] = fake.ids('jobs');
    fake.modifyJobs([jobId], () => ({ State: 'Faulted', EndTime: '2024-01-01T00:10:00.1234567Z' }));
    const sent = await fake.sendWebhook(url, SECRET, { type: 'job.faulted', id: jobId });
    expect(sent.status).toBe(200);
    const job = fake.snapshot('jobs').find((j) => j.Id === jobId);
    expect(hub.accepted[0]).toMatchObject({ deliveryId: sent.deliveryIds[0], eventType: 'job.faulted' });
    expect(hub.accepted[0].records[0]).toMatchObject({
      stream: 'jobs',
      record: {
        externalId: String(jobId),
        state: 'Faulted',
        robotName: (job?.RobotRef as { Name: string }).Name,
        endedAt: new Date('2024-01-01T00:10:00.123Z'),
      },
    });

    const [itemId] = fake.ids('queueItems');
    fake.modifyQueueItems([itemId], () => ({ Status: 'Failed' }));
    await fake.sendWebhook(url, SECRET, { type: 'queueItem.transactionFailed', id: itemId });
    const item = fake.snapshot('queueItems').find((i) => i.Id === itemId);
    expect(hub.accepted[1].records[0]).toMatchObject({
      stream: 'queueItems',
      record: {
        externalId: String(itemId),
        status: 'Failed',
        queueName: item?.QueueDefinitionId === 11 ? 'Invoices' : 'Claims',
        reference: item?.Reference,
        requestKey: (item?.SpecificContent as Record<string, unknown>).NerveRequestKey ?? null,
      },
    });

    const created = fake.addJob({ InputArguments: JSON.stringify({ NerveRequestKey: 'req-created' }) });
    await fake.sendWebhook(url, SECRET, { type: 'job.created', id: created.Id });
    expect(hub.accepted[2].records[0].record).toMatchObject({ state: 'Pending', requestKey: 'req-created' });
  });

  it('has its bad signature, stale Timestamp and repeated delivery refused', async () => {
    const { fake, hub, url } = await setUp();
    const event = { type: 'job.completed', id: fake.ids('jobs')[1] };
    expect((await fake.sendWebhook(url, SECRET, { ...event, badSignature: true })).status).toBe(401);
    const stale = await fake.sendWebhook(url, SECRET, { ...event, at: new Date(Date.now() - 10 * 60_000) });
    expect(stale.status).toBe(401);
    expect(JSON.parse(stale.body).error).toContain('more than 5 minutes old');
    const twice = await fake.sendWebhook(url, SECRET, { ...event, times: 2 });
    expect(twice.replies.map((r) => r.status)).toEqual([200, 409]);
    expect(hub.accepted).toHaveLength(1);
    for (const reply of [stale, twice]) expect(reply.body).not.toContain(SECRET);
  });
});
