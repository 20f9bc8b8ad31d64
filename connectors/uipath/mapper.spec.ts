import { ConnectorError } from '../_shared/errors';
import { date, mapJob, mapQueueItem, recordId } from './mapper';

const fetchedAt = new Date('2025-06-01T00:00:00Z');
const ctx = { requestKeyField: 'NerveRequestKey', fetchedAt };

describe('uipath mapper', () => {
  it('maps a job, reading the request key from the InputArguments JSON string', () => {
    const raw = {
      Id: 125161,
      Key: '1c7222dc-416f-4c60-9b17-88262c91768f',
      State: 'Successful',
      ReleaseName: 'Invoices_Main',
      Robot: { Id: 1, Name: 'robot-a' },
      CreationTime: '2018-01-15T18:18:01.623Z',
      StartTime: '2018-01-15T18:18:02.79Z',
      EndTime: '2018-01-15T18:18:47.5871234Z',
      LastModificationTime: '2018-01-15T18:18:47.6001234Z',
      InputArguments: '{"NerveRequestKey":"req-7","Other":1}',
      BrandNewField: { x: 1 },
    };
    const job = mapJob(raw, ctx, 'record 1');
    expect(job).toEqual({
      kind: 'rpa_job',
      externalId: '125161',
      updatedAt: new Date('2018-01-15T18:18:47.600Z'),
      requestKey: 'req-7',
      raw,
      state: 'Successful',
      releaseName: 'Invoices_Main',
      robotName: 'robot-a',
      createdAt: new Date('2018-01-15T18:18:01.623Z'),
      startedAt: new Date('2018-01-15T18:18:02.790Z'),
      endedAt: new Date('2018-01-15T18:18:47.587Z'),
    });
    expect(job).not.toHaveProperty('BrandNewField');
  });

  it('maps missing, null and garbage fields to null without throwing', () => {
    const job = mapJob(
      { Id: 1, InputArguments: 'not json', Robot: 'r', StartTime: 'yesterday' },
      ctx,
      'record 1',
    );
    expect(job).toMatchObject({
      state: 'Unknown',
      releaseName: null,
      robotName: null,
      requestKey: null,
      startedAt: null,
      endedAt: null,
      updatedAt: fetchedAt,
      createdAt: fetchedAt,
    });
    // Never modified: LastModificationTime is null and CreationTime stands in.
    const fresh = mapJob(
      { Id: 2, CreationTime: '2024-01-01T00:00:00Z', LastModificationTime: null },
      ctx,
      'r',
    );
    expect(fresh.updatedAt).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(mapJob({ Id: 3, InputArguments: '[1,2]' }, ctx, 'r').requestKey).toBeNull();
    expect(mapJob({ Id: 4, InputArguments: '{"NerveRequestKey":42}' }, ctx, 'r').requestKey).toBe('42');
  });

  it('maps a queue item, with its queue name and the request key from SpecificContent', () => {
    const raw = {
      Id: 9,
      QueueDefinitionId: 28211,
      Status: 'New',
      Reference: 'Petstore',
      Priority: 'Normal',
      SpecificContent: { Name: 'x', NerveRequestKey: 'req-9' },
      CreationTime: '2021-03-11T14:19:56.4407392Z',
      LastModificationTime: null,
    };
    const item = mapQueueItem(raw, { ...ctx, queueNames: new Map([[28211, 'UnattendedQueue']]) }, 'record 1');
    expect(item).toEqual({
      kind: 'queue_item',
      externalId: '9',
      updatedAt: new Date('2021-03-11T14:19:56.440Z'),
      requestKey: 'req-9',
      raw,
      queueName: 'UnattendedQueue',
      reference: 'Petstore',
      status: 'New',
      priority: 'Normal',
      createdAt: new Date('2021-03-11T14:19:56.440Z'),
      startedAt: null,
      endedAt: null,
    });
    expect(
      mapQueueItem({ Id: 1, QueueDefinitionId: 5 }, { ...ctx, queueNames: new Map() }, 'r').queueName,
    ).toBeNull();
  });

  it('refuses a record without an Id, naming stream and position', () => {
    let error: unknown;
    try {
      mapQueueItem({ Status: 'New' }, { ...ctx, queueNames: new Map() }, 'record 4 of the first page');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).kind).toBe('PERMANENT');
    expect((error as ConnectorError).message).toMatch(/queueItems: record 4 of the first page has no Id/);
    expect(() => recordId({ Id: '' }, 'jobs', 'r')).toThrow(/jobs: r has no Id/);
    expect(recordId({ Id: 7 }, 'jobs', 'r')).toBe('7');
  });

  it('parses dates leniently', () => {
    expect(date('2021-03-11T14:19:56.4407392Z')).toEqual(new Date('2021-03-11T14:19:56.440Z'));
    expect(date(null)).toBeNull();
    expect(date('garbage')).toBeNull();
    expect(date(12)).toBeNull();
  });
});
