/**
 * TEMPORARY: worth retrying later (rate limits, 5xx, timeouts, garbled replies). PERMANENT: retrying
 * changes nothing until a person does something (bad credentials, missing rights, exhausted quota,
 * bad config).
 */
export type ErrorKind = 'TEMPORARY' | 'PERMANENT';

/**
 * What a connector throws. The message is shown to users and stored in sync runs: it names the vendor,
 * the operation and the status, never a credential, a token or a request body.
 */
export class ConnectorError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details: {
      /** HTTP status, when the vendor answered. */
      status?: number;
      /** How long the vendor asked us to wait, in ms. */
      retryAfterMs?: number;
      /** The config or action input field at fault, for bad-input errors. */
      field?: string;
    } = {},
  ) {
    super(message);
    this.name = 'ConnectorError';
  }
}

export const temporary = (message: string, details?: ConnectorError['details']): ConnectorError =>
  new ConnectorError('TEMPORARY', message, details);

export const permanent = (message: string, details?: ConnectorError['details']): ConnectorError =>
  new ConnectorError('PERMANENT', message, details);

/** A bad config value or action input: PERMANENT, naming the field. */
export const badField = (field: string, message: string): ConnectorError =>
  new ConnectorError('PERMANENT', `${field}: ${message}`, { field });
