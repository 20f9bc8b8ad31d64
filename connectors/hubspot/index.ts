import type { ConnectorDefinition, ConnectorSession } from '../_shared/contract';
import { permanent } from '../_shared/errors';
import { HubspotClient } from './client';
import { STREAMS, readByIds, readStream } from './sync';
import type { HubspotStream } from './sync';
import { hubspotWebhook } from './webhook';

/**
 * HubSpot CRM v3: contacts and deals, read incrementally through the search API by last-modified time,
 * with a private app access token. Read-only: no actions.
 */
export const hubspot: ConnectorDefinition = {
  spec: {
    kind: 'hubspot',
    title: 'HubSpot CRM',
    config: [
      {
        name: 'baseUrl',
        type: 'url',
        description: 'The HubSpot API root.',
        default: 'https://api.hubapi.com',
      },
      {
        name: 'pageSize',
        type: 'integer',
        description: 'Records per search request.',
        min: 1,
        max: 100,
        default: 100,
      },
      {
        name: 'requestKeyProperty',
        type: 'string',
        description:
          'The custom contact and deal property holding the Nerve request key, for KPI attribution.',
        default: 'nerve_request_key',
      },
    ],
    secrets: [
      {
        name: 'accessToken',
        type: 'string',
        description:
          'A private app access token with the crm.objects.contacts.read and crm.objects.deals.read scopes.',
        required: true,
      },
      {
        name: hubspotWebhook.secretField,
        type: 'string',
        description:
          'The client secret of the app whose webhooks are sent here (it signs X-HubSpot-Signature-v3); needed only to take webhooks.',
      },
    ],
  },
  streams: STREAMS.map((s) => s.descriptor),
  actions: [],
  webhook: hubspotWebhook,
  open(config, secrets, env): ConnectorSession {
    const client = new HubspotClient(
      { baseUrl: config.baseUrl as string, accessToken: secrets.accessToken },
      env,
    );
    const options = {
      pageSize: config.pageSize as number,
      requestKeyProperty: config.requestKeyProperty as string,
    };
    return {
      check: () => client.check(),
      read: (stream, state) => readStream(client, streamNamed(stream), state, options),
      fetch: async (stream, ids) => readByIds(client, streamNamed(stream), ids, options),
      act(action) {
        return Promise.reject(permanent(`HubSpot has no action "${action}"; the connector is read-only`));
      },
    };
  },
};

function streamNamed(name: string): HubspotStream {
  const found = STREAMS.find((s) => s.descriptor.name === name);
  if (!found)
    throw permanent(
      `HubSpot has no stream "${name}"; it has ${STREAMS.map((s) => s.descriptor.name).join(', ')}`,
    );
  return found;
}
