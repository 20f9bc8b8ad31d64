import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** The codes a client may see in `extensions.code`. */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  /** A dependency (a remote model server) cannot answer now; `retryAfterSeconds` says when to try again. */
  UNAVAILABLE = 'UNAVAILABLE',
  /** The model itself failed on valid input (it threw at run time). */
  INFERENCE_FAILED = 'INFERENCE_FAILED',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

const httpStatus: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  UNAVAILABLE: 503,
  INFERENCE_FAILED: 502,
  INTERNAL_SERVER_ERROR: 500,
};

/** The HTTP status for an error code; 500 for anything unknown. */
export const statusFor = (code: unknown): number => httpStatus[code as ErrorCode] ?? 500;

/** An error whose message is safe to show to the caller. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get httpStatus(): number {
    return statusFor(this.code);
  }
}

/** Bad input, naming the offending field (dotted path, e.g. `points.3.value`). */
export class BadInputError extends DomainError {
  constructor(field: string, message: string) {
    super(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
  }
}

/** What was looked up, as the caller sent it: quoted back only as far as an id or a name can be long. */
const shown = (id: string): string =>
  id.length > 100 ? `${id.slice(0, 40)}… (${id.length} characters)` : id;

export class NotFoundError extends DomainError {
  /** With `field`, names the input that pointed at nothing. */
  constructor(what: string, id: string, field?: string) {
    super(
      ErrorCode.NOT_FOUND,
      `${what} ${shown(id)} not found${field ? ` (${field})` : ''}`,
      field ? { field } : {},
    );
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, field?: string) {
    super(ErrorCode.CONFLICT, message, field ? { field } : {});
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'not allowed') {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'a valid API key is required (Authorization: Bearer nrv_...)') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(limit: number) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, `payload exceeds the limit of ${limit} bytes`, { limit });
  }
}

/** A dependency cannot answer now (a remote model server down, its circuit open). */
export class UnavailableError extends DomainError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(ErrorCode.UNAVAILABLE, message, retryAfterSeconds === undefined ? {} : { retryAfterSeconds });
  }
}

/** The model failed on input that passed validation; the message is safe to show (no paths, no internals). */
export class InferenceFailedError extends DomainError {
  constructor(message: string) {
    super(ErrorCode.INFERENCE_FAILED, message);
  }
}

/** The database connection failed (not the statement): the same request may be retried as it is. */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(requestId?: string) {
    super('the database is unavailable; retry', 1);
    if (requestId) this.extensions.requestId = requestId;
  }
}

interface PgError {
  code?: string;
  constraint?: string;
  detail?: string;
}

/** Socket errors of a connection that broke or could not be made. */
const CONNECTION_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** What pg, pg-pool and TypeORM say, without a code, about a connection lost or never made. */
const CONNECTION_MESSAGES =
  /^Connection terminated|^timeout exceeded when trying to connect|is not queryable|^Connection ended/;
const RELEASED_RUNNER = new Set([
  'QueryRunnerAlreadyReleasedError',
  'QueryRunnerProviderAlreadyReleasedError',
]);

/**
 * Whether an error means the database connection failed rather than the statement: the server was shut
 * down or the backend terminated (57P01-57P03), the connection broke or was refused (class 08, socket
 * errors), or a query runner lost its connection that way mid-transaction. Nothing was committed by the
 * failed statement, so the work may be retried whole.
 */
export function isConnectionError(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('08')) return true;
      if (CONNECTION_ERRNOS.has(code)) return true;
    }
    if (typeof name === 'string' && RELEASED_RUNNER.has(name)) return true;
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
    e = (e as { driverError?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Maps a database constraint violation to a domain error, or a lost connection to UNAVAILABLE
 * (retryable); undefined when it is neither.
 */
export function fromDatabaseError(error: unknown): DomainError | undefined {
  if (!error || typeof error !== 'object') return undefined;
  if (isConnectionError(error)) return new DatabaseUnavailableError();
  const pg = (error as { driverError?: PgError }).driverError ?? (error as PgError);
  if (!pg || typeof pg.code !== 'string') return undefined;
  const constraint = pg.constraint ?? '';
  if (pg.code === '23505') {
    return new ConflictError(`already exists (${constraint})`, constraintField(constraint));
  }
  if (pg.code === '23503')
    return new BadInputError(constraintField(constraint) ?? 'input', 'refers to nothing');
  if (pg.code === '22P02') return new BadInputError('input', 'malformed value');
  // A NUL byte (or a character the database encoding lacks) in a string argument.
  if (pg.code === '22021' || pg.code === '22P05')
    return new BadInputError('input', 'contains a character that cannot be stored');
  return undefined;
}

/** Constraint names follow `<kind>_<table>__<field>`: what follows the double underscore names the field. */
function constraintField(constraint: string): string | undefined {
  const at = constraint.lastIndexOf('__');
  return at >= 0 ? constraint.slice(at + 2) : undefined;
}

/**
 * The field a GraphQL variable-coercion error is about, as a dotted path from the variable
 * (`i.slug`, `points.3.value`): graphql-js names it only in the message.
 */
export function variableErrorField(message: string): string | undefined {
  const variable = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)"/.exec(message);
  if (!variable) return undefined;
  const at = / at "([^"]+)"; /.exec(message);
  let field = at ? at[1].replace(/\[(\d+)\]/g, '.$1') : variable[1];
  // An unknown or missing input field is reported on the object holding it; name the field itself.
  // A submitted key is a name only as long as a schema's names are; a longer one is not echoed.
  const inner = /; Field "([_A-Za-z][_0-9A-Za-z]{0,63})" (?:is not defined by type|of required type)/.exec(
    message,
  );
  if (inner) field = `${field}.${inner[1]}`;
  return field;
}

const REQUEST_ERROR_CODES = new Set<unknown>([ErrorCode.BAD_USER_INPUT, 'BAD_REQUEST']);

/** graphql-js gives up coercing variables after 50 errors with this; it is the caller's input all the same. */
const TOO_MANY_VARIABLE_ERRORS = /^Too many errors processing variables\b/;

/**
 * What is wrong with a variable's value, as graphql-js put it (`reason`), without the value itself: the
 * messages of built-in and graphql-scalars scalars quote what was sent, which may be a secret or a megabyte.
 * A reason carrying BAD_USER_INPUT was written by us to be shown; other shapes are known, or cut back to the
 * type they expected.
 */
function variableProblem(reason: string, reasonCode: unknown): string {
  if (reasonCode === ErrorCode.BAD_USER_INPUT) return reason;
  const builtin = /^((?:Int|Float|String|Boolean|ID|Enum "\w+") cannot represent [^:]*):/.exec(reason);
  if (builtin) return builtin[1];
  const scalar = /^(\w+) cannot represent\b/.exec(reason);
  if (scalar) return `${scalar[1]} cannot represent this value`;
  const enumValue = /^Value .* does not exist in "(\w+)" enum\.( Did you mean [^\n]*\?)?$/s.exec(reason);
  if (enumValue) return `is not a value of enum "${enumValue[1]}".${enumValue[2] ?? ''}`;
  if (/^Field "[_A-Za-z]\w*" of required type "[^"]+" was not provided\.$/.test(reason)) return reason;
  if (/^Field "[_A-Za-z]\w{0,63}" is not defined by type "\w+"\.( Did you mean [^\n]*\?)?$/.test(reason))
    return reason;
  const unknownField = /^Field .* is not defined by type "(\w+)"\./s.exec(reason);
  if (unknownField) return `has a field that type "${unknownField[1]}" does not define`;
  const expected = /^Expected type "(\w+)"/.exec(reason);
  if (expected) return `Expected type "${expected[1]}".`;
  return 'is not a valid value';
}

/**
 * A variable-coercion error's message without the submitted value that graphql-js quotes in it
 * (`Variable "$i" got invalid value { …secrets… }; …`), or undefined when the message is not one.
 */
function variableMessage(message: string, original: unknown): string | undefined {
  if (TOO_MANY_VARIABLE_ERRORS.test(message))
    return 'too many invalid values in the variables; the first are reported';
  const variable = /^Variable "\$([_A-Za-z]\w*)" got invalid value /.exec(message);
  // "was not provided" and "must not be null" quote no value.
  if (!variable) return undefined;
  const inner = original instanceof GraphQLError && original.message !== message ? original : undefined;
  const reason = inner ? inner.message : (/; ([^;]*)$/.exec(message)?.[1] ?? '');
  const head = inner && message.endsWith(`; ${reason}`) ? message.slice(0, -reason.length - 2) : message;
  const at = / at "([^"]+)"$/.exec(head)?.[1] ?? variable[1];
  return `Variable "$${variable[1]}" has an invalid value at "${at}": ${variableProblem(reason, inner?.extensions.code)}`;
}

/**
 * The one place where errors become what a client sees: domain errors keep their code and message,
 * GraphQL's own request errors pass through with their code (and the offending field), anything else
 * becomes a bare INTERNAL_SERVER_ERROR carrying `requestId` (or the one the error already holds).
 * Pure: the caller logs what {@link isInternal} says is the server's fault.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  requestId?: string,
): GraphQLFormattedError {
  const original = originalOf(error);
  if (original instanceof DomainError) {
    // A retryable failure is the server's side too: the request id leads to its log line.
    const traced = original.code === ErrorCode.UNAVAILABLE && requestId ? { requestId } : {};
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { ...original.extensions, ...traced, code: original.code },
    };
  }
  // A document nested deeper than the parser's stack allows (a literal thousands of levels deep).
  if (formatted.path === undefined && rootCause(error) instanceof RangeError)
    return formatError(formatted, new BadInputError('query', 'is nested too deeply'), requestId);
  const mapped = fromDatabaseError(original);
  if (mapped) return formatError(formatted, mapped, requestId);
  const own = original instanceof GraphQLError ? original.extensions : undefined;
  if (own?.code === ErrorCode.INTERNAL_SERVER_ERROR) {
    return internal(formatted, typeof own.requestId === 'string' ? own.requestId : requestId);
  }
  // A code set on the error itself (our validation rules, the context's UNAUTHENTICATED) wins over the
  // code a wrapper gave it (Apollo wraps every validation error as GRAPHQL_VALIDATION_FAILED).
  const ownCode = typeof own?.code === 'string' ? own.code : undefined;
  const code = ownCode ?? formatted.extensions?.code;
  // Errors without a path describe the request (parse, validation, variables); errors with one happened
  // while executing it, and are the server's fault unless deliberately raised with a code.
  const isRequestError =
    formatted.path === undefined
      ? (original instanceof GraphQLError && !original.originalError) ||
        REQUEST_ERROR_CODES.has(code) ||
        (typeof code === 'string' && code.startsWith('GRAPHQL_'))
      : ownCode !== undefined;
  if (!isRequestError) return internal(formatted, requestId);
  // Over WebSocket nothing has coded these yet; over HTTP Apollo coded all but the last.
  const variableError =
    formatted.path === undefined ? variableMessage(formatted.message, original) : undefined;
  if (variableError !== undefined) {
    return {
      message: variableError,
      locations: formatted.locations,
      extensions: {
        code: ErrorCode.BAD_USER_INPUT,
        field: variableErrorField(formatted.message) ?? 'variables',
      },
    };
  }
  const field =
    typeof own?.field === 'string'
      ? own.field
      : code === ErrorCode.BAD_USER_INPUT
        ? variableErrorField(formatted.message)
        : undefined;
  return {
    message: formatted.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: field === undefined ? { code } : { code, field },
  };
}

function internal(formatted: GraphQLFormattedError, requestId: string | undefined): GraphQLFormattedError {
  return {
    message: 'Internal server error',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
  };
}

/** Whether a formatted error is the server's fault (and so worth a log line). */
export const isInternal = (formatted: GraphQLFormattedError): boolean =>
  formatted.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR;

/** The error at the bottom of GraphQL's wrappers (Apollo wraps a parse failure twice). */
function rootCause(error: unknown): unknown {
  let cause = error;
  while (cause instanceof GraphQLError && cause.originalError) cause = cause.originalError;
  return cause;
}

/** The error behind GraphQL's wrapper, if any. */
export const originalOf = (error: unknown): unknown =>
  error instanceof GraphQLError ? (error.originalError ?? error) : error;

/**
 * What to throw once an unexpected failure has been logged: the client sees only the request id,
 * which leads to the log line.
 */
export function internalError(requestId: string): GraphQLError {
  return new GraphQLError('Internal server error', {
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId, http: { status: 500 } },
  });
}
