import { badField, permanent, validateFields } from '../_shared';
import type {
  ActionResult,
  ActionSpec,
  ConfigValues,
  ConnectorDefinition,
  ConnectorEnv,
  ConnectorSession,
} from '../_shared';
import { alreadyApplied, ZendeskClient } from './client';
import type { TicketWrite } from './client';
import { optionalInteger, ticketMapping } from './mapper';
import type { TicketMapping } from './mapper';
import { TICKETS, readTickets, ticketState } from './sync';
import { zendeskWebhook } from './webhook';

const actions: ActionSpec[] = [
  {
    name: 'createTicket',
    description: 'Opens a Zendesk ticket (e.g. for an alert), with the routing and request-key fields set.',
    input: [
      { name: 'subject', type: 'string', required: true, description: 'Ticket subject.' },
      { name: 'comment', type: 'string', required: true, description: 'First comment (the description).' },
      {
        name: 'priority',
        type: 'string',
        oneOf: ['low', 'normal', 'high', 'urgent'],
        description: 'Ticket priority.',
      },
      { name: 'tags', type: 'string[]', description: 'Tags to set.' },
      {
        name: 'routing',
        type: 'string',
        description: 'Value for the routing custom field (config.routingFieldId).',
      },
      {
        name: 'requestKey',
        type: 'string',
        description: 'Nerve request key for the request-key custom field (config.requestKeyFieldId).',
      },
    ],
  },
  {
    name: 'updateTicket',
    description: 'Changes a ticket: a prediction sets its routing field, or its status, tags or a comment.',
    input: [
      { name: 'ticketId', type: 'integer', required: true, min: 1, description: 'Zendesk ticket id.' },
      {
        name: 'routing',
        type: 'string',
        description: 'Value for the routing custom field (config.routingFieldId).',
      },
      {
        name: 'requestKey',
        type: 'string',
        description: 'Nerve request key for the request-key custom field (config.requestKeyFieldId).',
      },
      { name: 'status', type: 'string', oneOf: ['open', 'pending', 'solved'], description: 'New status.' },
      { name: 'comment', type: 'string', description: 'A comment to add.' },
      { name: 'tags', type: 'string[]', description: 'Tags to set (replaces the ticket’s tags).' },
    ],
  },
];

/** Zendesk Support: the `tickets` stream (incremental export with metric sets) and ticket actions. */
export const zendesk: ConnectorDefinition = {
  spec: {
    kind: 'zendesk',
    title: 'Zendesk Support',
    config: [
      {
        name: 'baseUrl',
        type: 'url',
        required: true,
        description: 'The account’s address, https://{subdomain}.zendesk.com.',
      },
      {
        name: 'email',
        type: 'string',
        required: true,
        description: 'Email of the (admin) user whose API token is used; auth is `{email}/token:{apiToken}`.',
      },
      {
        name: 'startTime',
        type: 'integer',
        min: 0,
        default: 0,
        description: 'Unix seconds where the first export starts.',
      },
      {
        name: 'pageSize',
        type: 'integer',
        min: 1,
        max: 1000,
        default: 1000,
        description: 'Tickets per export page (per_page).',
      },
      {
        name: 'requestKeyFieldId',
        type: 'integer',
        min: 1,
        description: 'Id of the ticket custom field holding the Nerve request key.',
      },
      {
        name: 'routingFieldId',
        type: 'integer',
        min: 1,
        description: 'Id of the ticket custom field a model sets (routing).',
      },
    ],
    secrets: [
      { name: 'apiToken', type: 'string', required: true, description: 'Zendesk API token.' },
      {
        name: zendeskWebhook.secretField,
        type: 'string',
        description:
          'Signing secret of the Zendesk webhook subscribed to ticket events (it signs X-Zendesk-Webhook-Signature); needed only to take webhooks.',
      },
    ],
  },
  streams: [{ name: TICKETS, recordKind: 'ticket', primaryKey: 'id', cursorField: 'updated_at' }],
  actions,
  webhook: zendeskWebhook,
  open(config: ConfigValues, secrets: Record<string, string>, env: ConnectorEnv): ConnectorSession {
    const client = new ZendeskClient(
      { baseUrl: String(config.baseUrl), email: String(config.email), apiToken: secrets.apiToken },
      env,
    );
    const mapping = ticketMapping(config);
    const startTime = optionalInteger(config.startTime) ?? 0;
    const pageSize = optionalInteger(config.pageSize) ?? 1000;

    return {
      async check() {
        const user = await client.me();
        // Without accepted credentials /users/me can answer 200 with an anonymous user (no id).
        if (typeof user.id !== 'number')
          throw permanent('Zendesk check credentials: the credentials were not accepted (anonymous user)');
        if (user.role !== 'admin')
          throw permanent(
            `Zendesk check credentials: the user's role is ${String(user.role)}; the incremental export needs an admin`,
          );
      },
      read(stream, state) {
        if (stream !== TICKETS) throw permanent(`Zendesk has no stream "${stream}"; it has "${TICKETS}"`);
        return readTickets(client, mapping, pageSize, ticketState(state, startTime));
      },
      async act(action, rawInput, idempotencyKey, attempt): Promise<ActionResult> {
        const spec = actions.find((a) => a.name === action);
        if (!spec)
          throw badField('action', `unknown action "${action}"; expected createTicket or updateTicket`);
        const input = validateFields(spec.input, rawInput, action);
        const ticket: TicketWrite = {};
        if (typeof input.subject === 'string') ticket.subject = input.subject;
        if (typeof input.comment === 'string') ticket.comment = { body: input.comment };
        if (typeof input.priority === 'string') ticket.priority = input.priority;
        if (typeof input.status === 'string') ticket.status = input.status;
        if (Array.isArray(input.tags)) ticket.tags = input.tags;
        const fields = customFields(action, input, mapping);
        if (fields.length > 0) ticket.custom_fields = fields;

        let raw: Record<string, unknown>;
        if (action === 'createTicket') raw = await client.createTicket(ticket, idempotencyKey);
        else {
          if (Object.keys(ticket).length === 0) throw badField(action, 'nothing to change');
          const id = input.ticketId as number;
          // An earlier attempt may have landed (updates take no idempotency key): done if it shows.
          const current = attempt?.resumed ? await client.ticket(id) : null;
          raw = current && alreadyApplied(current, ticket) ? current : await client.updateTicket(id, ticket);
        }
        return { externalId: String(raw.id), stream: TICKETS, raw };
      },
    };
  },
};

function customFields(
  action: string,
  input: ConfigValues,
  mapping: TicketMapping,
): { id: number; value: string }[] {
  const fields: { id: number; value: string }[] = [];
  const set = (name: 'routing' | 'requestKey', fieldId: number | undefined, configName: string) => {
    const value = input[name];
    if (typeof value !== 'string') return;
    if (fieldId === undefined) throw badField(`${action}.${name}`, `needs config.${configName} to be set`);
    fields.push({ id: fieldId, value });
  };
  set('routing', mapping.routingFieldId, 'routingFieldId');
  set('requestKey', mapping.requestKeyFieldId, 'requestKeyFieldId');
  return fields;
}
