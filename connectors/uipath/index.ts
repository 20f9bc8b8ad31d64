import { setTimeout as delay } from 'node:timers/promises';
import type {
  ActionResult,
  ActionSpec,
  ConfigValues,
  ConnectorDefinition,
  ConnectorEnv,
  ConnectorSession,
  Page,
  StreamState,
} from '../_shared/contract';
import { ConnectorError, badField, permanent } from '../_shared/errors';
import { validateFields } from '../_shared/validate';
import { DuplicateReferenceError, UiPathClient } from './client';
import { type UiPathStream, readStream } from './sync';
import { uipathWebhook } from './webhook';

const ADD_QUEUE_ITEM: ActionSpec = {
  name: 'addQueueItem',
  description:
    'Adds an item to an Orchestrator queue (AddQueueItem), carrying the Nerve request key in its SpecificContent.',
  input: [
    {
      name: 'queueName',
      type: 'string',
      required: true,
      description: 'The queue, in the configured folder.',
    },
    {
      name: 'reference',
      type: 'string',
      description: 'The item reference; defaults to the idempotency key, so a retried action finds its item.',
    },
    {
      name: 'priority',
      type: 'string',
      oneOf: ['Low', 'Normal', 'High'],
      default: 'Normal',
      description: 'Processing priority.',
    },
    {
      name: 'specificContent',
      type: 'object',
      description: 'The item data (string, number or boolean values).',
    },
    { name: 'requestKey', type: 'string', description: 'The Nerve request key, stored in SpecificContent.' },
  ],
};

/**
 * UiPath Orchestrator (Automation Cloud or on-premises): jobs and queue items of one folder, read
 * incrementally, and queue items added as actions. Auth is an external application's client credentials.
 */
export const uipath: ConnectorDefinition = {
  spec: {
    kind: 'uipath',
    title: 'UiPath Orchestrator',
    config: [
      {
        name: 'orchestratorUrl',
        type: 'url',
        required: true,
        description: 'Orchestrator base URL, e.g. https://cloud.uipath.com/{org}/{tenant}/orchestrator_',
      },
      {
        name: 'identityUrl',
        type: 'url',
        required: true,
        description:
          'Identity Server base URL, e.g. https://cloud.uipath.com/{org}/identity_ (tokens from /connect/token).',
      },
      {
        name: 'folderId',
        type: 'integer',
        required: true,
        min: 1,
        description:
          'The folder (OrganizationUnitId) to read and write, sent as X-UIPATH-OrganizationUnitId.',
      },
      {
        name: 'scope',
        type: 'string',
        default: 'OR.Jobs OR.Queues',
        description: 'Application scopes to request, space-separated.',
      },
      {
        name: 'pageSize',
        type: 'integer',
        min: 1,
        max: 1000,
        default: 100,
        description: 'Rows per OData request ($top); Orchestrator serves at most 1,000.',
      },
      {
        name: 'requestKeyField',
        type: 'string',
        default: 'NerveRequestKey',
        description: 'The InputArguments / SpecificContent key that carries the Nerve request key.',
      },
    ],
    secrets: [
      { name: 'clientId', type: 'string', required: true, description: 'External application App ID.' },
      {
        name: 'clientSecret',
        type: 'string',
        required: true,
        description: 'External application App Secret.',
      },
      {
        name: uipathWebhook.secretField,
        type: 'string',
        description:
          'The secret set on the Orchestrator webhook (it signs X-UiPath-Signature); needed only to take webhooks.',
      },
    ],
  },
  streams: [
    { name: 'jobs', recordKind: 'rpa_job', primaryKey: 'Id', cursorField: 'LastModificationTime' },
    { name: 'queueItems', recordKind: 'queue_item', primaryKey: 'Id', cursorField: 'LastModificationTime' },
  ],
  actions: [ADD_QUEUE_ITEM],
  open: (config, secrets, env) => new UiPathSession(config, secrets, env),
  webhook: uipathWebhook,
};

class UiPathSession implements ConnectorSession {
  private readonly client: UiPathClient;
  private readonly folderId: number;
  private readonly pageSize: number;
  private readonly requestKeyField: string;

  constructor(
    config: ConfigValues,
    secrets: Record<string, string>,
    private readonly env: ConnectorEnv,
  ) {
    this.folderId = config.folderId as number;
    this.pageSize = (config.pageSize as number | undefined) ?? 100;
    this.requestKeyField = (config.requestKeyField as string | undefined) ?? 'NerveRequestKey';
    this.client = new UiPathClient({
      orchestratorUrl: config.orchestratorUrl as string,
      identityUrl: config.identityUrl as string,
      folderId: this.folderId,
      scope: (config.scope as string | undefined) ?? 'OR.Jobs OR.Queues',
      clientId: secrets.clientId,
      clientSecret: secrets.clientSecret,
      env,
    });
  }

  check(): Promise<void> {
    return this.client.check();
  }

  read(stream: string, state: StreamState | null): AsyncIterable<Page> {
    if (stream !== 'jobs' && stream !== 'queueItems')
      throw badField('stream', `unknown stream "${stream}"; expected jobs or queueItems`);
    return readStream(this.client, stream as UiPathStream, state, {
      pageSize: this.pageSize,
      requestKeyField: this.requestKeyField,
      now: () => this.env.now(),
    });
  }

  async act(action: string, input: ConfigValues, idempotencyKey: string | undefined): Promise<ActionResult> {
    if (action !== ADD_QUEUE_ITEM.name)
      throw badField('action', `unknown action "${action}"; expected ${ADD_QUEUE_ITEM.name}`);
    const values = validateFields(ADD_QUEUE_ITEM.input, input, 'input');
    const queueName = values.queueName as string;
    const queue = await this.client.findQueue(queueName);
    if (!queue) throw badField('input.queueName', `no queue named "${queueName}" in folder ${this.folderId}`);
    const reference = (values.reference as string | undefined) ?? idempotencyKey;
    const content: Record<string, unknown> = { ...((values.specificContent as object | undefined) ?? {}) };
    if (values.requestKey !== undefined) content[this.requestKeyField] = values.requestKey;
    const itemData: Record<string, unknown> = {
      Name: queue.name,
      Priority: values.priority ?? 'Normal',
      SpecificContent: content,
      ...(reference !== undefined ? { Reference: reference } : {}),
    };
    const done = (raw: Record<string, unknown>): ActionResult => {
      if (typeof raw.Id !== 'number' && typeof raw.Id !== 'string')
        throw permanent('UiPath Orchestrator add queue item: the created item has no Id');
      return { externalId: String(raw.Id), stream: 'queueItems', raw };
    };

    // A retried action (same idempotency key) finds the item its first run added, even in a queue
    // that does not enforce unique references.
    if (idempotencyKey !== undefined && reference !== undefined) {
      const existing = await this.client.findQueueItem(queue.id, reference);
      if (existing) return done(existing);
    }
    const maxRetries = this.env.http?.maxRetries ?? 6;
    for (let attempt = 0; ; attempt++) {
      try {
        return done(await this.client.addQueueItem(itemData));
      } catch (error) {
        if (error instanceof DuplicateReferenceError && reference !== undefined) {
          const existing = await this.client.findQueueItem(queue.id, reference);
          if (existing) return done(existing);
          throw permanent(
            'UiPath Orchestrator add queue item: the queue reports a duplicate reference but holds no item with it (a deleted item keeps its reference reserved)',
          );
        }
        // Without a reference a lost reply cannot be told from a refused request, so only the hub may retry.
        if (!(error instanceof ConnectorError) || error.kind === 'PERMANENT' || reference === undefined)
          throw error;
        if (attempt >= maxRetries) throw error;
        await this.backoff(attempt, error);
        // The failed attempt may have been stored before its reply was lost: look before sending again.
        const existing = await this.client.findQueueItem(queue.id, reference);
        if (existing) return done(existing);
      }
    }
  }

  private async backoff(attempt: number, error: ConnectorError): Promise<void> {
    const http = this.env.http ?? {};
    const random = http.random ?? Math.random;
    const sleep = http.sleep ?? ((ms: number) => delay(ms));
    const base = http.backoffMs ?? 500;
    const cap = http.maxBackoffMs ?? 30_000;
    const asked = error.details.retryAfterMs;
    if (asked !== undefined && asked > (http.maxRetryAfterMs ?? 120_000)) throw error;
    await sleep(asked ?? Math.floor(random() * Math.min(cap, base * 2 ** attempt)));
  }
}
