import type { HttpOptions } from './http';
import type { RecordKind, SyncedRecord } from './records';

/** One config or secret field of a connector's spec, or one input of an action. */
export interface FieldSpec {
  name: string;
  /** `object`: a JSON object of string, number or boolean values (e.g. a queue item's content). */
  type: 'string' | 'url' | 'integer' | 'boolean' | 'string[]' | 'object';
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

export type FieldValue = string | number | boolean | string[] | Record<string, string | number | boolean>;
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

/** A connector opened with validated config and decrypted secrets. */
export interface ConnectorSession {
  /** Airbyte's `check`: throws a ConnectorError saying what is wrong (bad credentials are PERMANENT). */
  check(): Promise<void>;
  /**
   * Airbyte's `read` for one stream, incremental from `state` (null: from the beginning). Yields
   * pages in cursor order; ends when the stream is caught up.
   */
  read(stream: string, state: StreamState | null): AsyncIterable<Page>;
  /** Runs an action; `idempotencyKey` is passed to the vendor where it supports one. */
  act(action: string, input: ConfigValues, idempotencyKey: string | undefined): Promise<ActionResult>;
}

/** A vendor adapter: what the registry lists. */
export interface ConnectorDefinition {
  spec: ConnectorSpec;
  streams: StreamDescriptor[];
  actions: ActionSpec[];
  /** `config` and `secrets` have passed `validateFields` against the spec. */
  open(config: ConfigValues, secrets: Record<string, string>, env: ConnectorEnv): ConnectorSession;
}
