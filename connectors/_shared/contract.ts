import type { HttpOptions } from './http';
import type { RecordKind, SyncedRecord } from './records';

/** One config or secret field of a connector's spec, or one input of an action. */
export interface FieldSpec {
  name: string;
  /**
   * `object`: a JSON object of string, number or boolean values (e.g. a queue item's content); `json`: any
   * JSON object, nested (a pipeline's conf).
   */
  type: 'string' | 'url' | 'integer' | 'boolean' | 'string[]' | 'object' | 'json';
  description: string;
  required?: boolean;
  default?: string | number | boolean | string[];
  /** For integers. */
  min?: number;
  max?: number;
  /** For strings: allowed values. */
  oneOf?: string[];
}

/** What a connector needs (Airbyte's `spec`): plain config, and secrets that are stored encrypted and never read back. */
export interface ConnectorSpec {
  kind: string;
  title: string;
  config: FieldSpec[];
  secrets: FieldSpec[];
}

/** A stream (Airbyte's `discover`): what it yields, its primary key and the field its cursor follows. */
export interface StreamDescriptor {
  name: string;
  recordKind: RecordKind;
  primaryKey: string;
  cursorField: string;
}

/** A stream's position, opaque to the hub: stored as JSON and handed back on the next read. */
export type StreamState = Record<string, unknown>;

/**
 * One page of a stream. The hub writes `records` and `state` in one transaction before asking for the
 * next page, so a sync that dies resumes after the last page written: records may be read twice
 * (they are upserted by id), never skipped.
 */
export interface Page {
  records: SyncedRecord[];
  /** The position after this page. */
  state: StreamState;
}

export type FieldValue =
  | string
  | number
  | boolean
  | string[]
  | Record<string, string | number | boolean>
  | { [key: string]: unknown };
export type ConfigValues = Record<string, FieldValue | undefined>;

/** What the hub lends a connector: the clock and HTTP tuning (tests shorten backoffs). */
export interface ConnectorEnv {
  now(): Date;
  http?: Partial<Omit<HttpOptions, 'vendor' | 'baseUrl' | 'authorize' | 'classify'>>;
}

/** An action that writes into the vendor (a model decision becomes work there). */
export interface ActionSpec {
  name: string;
  description: string;
  input: FieldSpec[];
}

/** What an action did in the vendor system. */
export interface ActionResult {
  /** The vendor's id of the object created or changed. */
  externalId: string;
  /** The stream whose records the action touched, so the hub can note the request key on it. */
  stream: string;
  /** The vendor's object as returned. */
  raw: Record<string, unknown>;
}

/** What the hub knows of earlier attempts of an action with the same idempotency key. */
export interface ActionAttempt {
  resumed: boolean;
}

/** A connector opened with validated config and decrypted secrets. */
export interface ConnectorSession {
  /** Airbyte's `check`: throws a ConnectorError saying what is wrong (bad credentials are PERMANENT). */
  check(): Promise<void>;
  /**
   * Airbyte's `read` for one stream, incremental from `state` (null: from the beginning). Yields
   * pages in cursor order; ends when the stream is caught up.
   */
  read(stream: string, state: StreamState | null): AsyncIterable<Page>;
  /**
   * Runs an action; `idempotencyKey` is passed to the vendor where it supports one. `attempt.resumed`:
   * an earlier attempt with this key may have reached the vendor (it failed, or its process died), so an
   * action the vendor cannot de-duplicate checks the vendor's state before it acts again.
   */
  act(
    action: string,
    input: ConfigValues,
    idempotencyKey: string | undefined,
    attempt?: ActionAttempt,
  ): Promise<ActionResult>;
  /**
   * Reads records by the vendor's ids, mapped exactly as `read` maps them: what a webhook only names
   * (`WebhookDelivery.refs`). Ids the vendor no longer has are left out of the result, not an error.
   */
  fetch?(stream: string, externalIds: string[]): Promise<SyncedRecord[]>;
}

/** A vendor adapter: what the registry lists. */
export interface ConnectorDefinition {
  spec: ConnectorSpec;
  streams: StreamDescriptor[];
  actions: ActionSpec[];
  /** `config` and `secrets` have passed `validateFields` against the spec. */
  open(config: ConfigValues, secrets: Record<string, string>, env: ConnectorEnv): ConnectorSession;
  /** How the vendor's webhooks are verified and read, for kinds that accept them. */
  webhook?: WebhookSpec;
}

/** An inbound HTTP request as the hub received it (header names lower-case; the raw body bytes). */
export interface WebhookRequest {
  method: string;
  /** The full URL as the vendor called it, query included (HubSpot signs it). */
  url: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export type WebhookVerdict = { ok: true } | { ok: false; status: 400 | 401; reason: string };

/** What a verified delivery carries. */
export interface WebhookDelivery {
  /** The vendor's id of this delivery/event: the hub refuses a replay of it (409). */
  deliveryId: string;
  /** The vendor's event type as sent, e.g. "zen:event-type:ticket.created", "contact.creation", "job.completed". */
  eventType: string;
  /** Records carried in full, mapped exactly as a sync maps them (same mapper). */
  records: Array<{ stream: string; record: SyncedRecord }>;
  /** Records only named (HubSpot sends ids): the hub reads them with session.fetch(stream, ids). */
  refs: Array<{ stream: string; externalId: string }>;
}

/**
 * How a connector kind takes the vendor's webhooks. `parse` also gets the connector's config (validated
 * against `spec.config`, as `open` gets it), since mapping depends on it: Zendesk's routing and
 * request-key custom fields, UiPath's folder and request-key field.
 */
export interface WebhookSpec {
  /**
   * The secret field of the connector's spec (secrets.<name>) that signs the vendor's webhooks; each kind
   * lists it in spec.secrets as an optional field, since only connectors taking webhooks need it.
   */
  secretField: string;
  /**
   * Checks signature and timestamp window (default 5 minutes either side of `now`); never throws.
   * 401 for a missing header, a wrong signature or a time outside the window, 400 for a malformed header;
   * the reason never holds the secret nor a signature.
   */
  verify(request: WebhookRequest, secret: string, now: Date): WebhookVerdict;
  /**
   * Parses a verified body into zero or more deliveries (HubSpot batches up to 100 events in one request).
   * An event type the adapter does not model gives a delivery with no records and no refs (the hub
   * acknowledges and ignores it). Malformed JSON or shape: throws a PERMANENT ConnectorError naming what
   * is wrong.
   */
  parse(request: WebhookRequest, config: ConfigValues): WebhookDelivery[];
}
