import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from './logger';

/** The codes a client may see in `extensions.code`. */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
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
  INTERNAL_SERVER_ERROR: 500,
};

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
    return httpStatus[this.code];
  }
}

/** Bad input, naming the offending field (dotted path, e.g. `points.3.value`). */
export class BadInputError extends DomainError {
  constructor(field: string, message: string) {
    super(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(ErrorCode.NOT_FOUND, `${what} ${id} not found`);
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

interface PgError {
  code?: string;
  constraint?: string;
  detail?: string;
}

/** Maps a database constraint violation to a domain error, or undefined when it is not one. */
export function fromDatabaseError(error: unknown): DomainError | undefined {
  const pg = (error as { driverError?: PgError }).driverError ?? (error as PgError);
  if (!pg || typeof pg.code !== 'string') return undefined;
  const constraint = pg.constraint ?? '';
  if (pg.code === '23505') {
    return new ConflictError(`already exists (${constraint})`, constraintField(constraint));
  }
  if (pg.code === '23503') return new BadInputError(constraintField(constraint) ?? 'input', 'refers to nothing');
  if (pg.code === '22P02') return new BadInputError('input', 'malformed value');
  return undefined;
}

/** Constraint names follow `<kind>_<table>__<field>`: what follows the double underscore names the field. */
function constraintField(constraint: string): string | undefined {
  const at = constraint.lastIndexOf('__');
  return at >= 0 ? constraint.slice(at + 2) : undefined;
}

/**
 * The one place where errors become what a client sees: domain errors keep their code and message,
 * GraphQL's own validation and coercion errors pass through, anything else is logged with the request
 * id and surfaces as a bare INTERNAL_SERVER_ERROR.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  logger: Logger,
  requestId?: string,
): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  if (original instanceof DomainError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { ...original.extensions, code: original.code },
    };
  }
  const mapped = fromDatabaseError(original);
  if (mapped) return formatError(formatted, mapped, logger, requestId);
  // GraphQL's own parse, validation and variable-coercion errors describe the request, not the server.
  const code = formatted.extensions?.code;
  const isRequestError =
    (original instanceof GraphQLError && !original.originalError) ||
    code === ErrorCode.BAD_USER_INPUT ||
    (typeof code === 'string' && code.startsWith('GRAPHQL_'));
  if (isRequestError) {
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code } };
  }
  logger.error('unhandled error', { requestId, error: original, path: formatted.path });
  return {
    message: 'Internal server error',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId },
  };
}
