import jsonata from 'jsonata';
import { BadInputError } from '../../common/errors';

/**
 * The expression language of automations: JSONata (https://jsonata.org), a query and transformation
 * language for JSON with no access to the process (no eval, no I/O, no globals). Each evaluation is
 * boxed: at most {@link LIMITS}.timeoutMs of evaluation, a bounded call depth and sequence length, and a
 * result that serializes to at most {@link LIMITS}.resultBytes.
 */
export const LIMITS = {
  sourceChars: 10_000,
  timeoutMs: 100,
  stackDepth: 200,
  sequenceLength: 100_000,
  resultBytes: 1_000_000,
};

/** An evaluation that failed: the expression's field and JSONata's message (never the data). */
export class ExpressionError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A compiled expression, kept with the field it came from so errors name it. */
export interface Expression {
  readonly field: string;
  readonly source: string;
  evaluate(document: unknown): Promise<unknown>;
}

interface JsonataFailure {
  code?: string;
  message?: string;
  position?: number;
}

const describe = (error: unknown): string => {
  const e = error as JsonataFailure;
  const where = typeof e.position === 'number' ? ` at character ${e.position}` : '';
  return `${e.message ?? String(error)}${e.code ? ` (${e.code})` : ''}${where}`;
};

/**
 * Compiles an expression; a syntax error is BAD_USER_INPUT on `field`. Compiled once per automation
 * version and reused: JSONata's parse is the costly part.
 */
export function compileExpression(field: string, source: string): Expression {
  if (source.length > LIMITS.sourceChars)
    throw new BadInputError(field, `must be at most ${LIMITS.sourceChars} characters`);
  if (source.trim() === '') throw new BadInputError(field, 'must not be empty');
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(source, {
      timeout: LIMITS.timeoutMs,
      stack: LIMITS.stackDepth,
      sequence: LIMITS.sequenceLength,
    });
  } catch (error) {
    throw new BadInputError(field, `is not a valid JSONata expression: ${describe(error)}`);
  }
  return {
    field,
    source,
    async evaluate(document: unknown): Promise<unknown> {
      let result: unknown;
      try {
        result = await compiled.evaluate(document);
      } catch (error) {
        throw new ExpressionError(field, describe(error));
      }
      return plain(field, result);
    },
  };
}

/**
 * The result as plain JSON: JSONata sequences become arrays, functions are refused, undefined (no
 * match) becomes null, and a result too large to store is refused.
 */
function plain(field: string, value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'function') throw new ExpressionError(field, 'evaluates to a function, not data');
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'function') throw new ExpressionError(field, 'evaluates to a function, not data');
    return v;
  });
  if (text === undefined) return null;
  if (Buffer.byteLength(text) > LIMITS.resultBytes)
    throw new ExpressionError(field, `evaluates to more than ${LIMITS.resultBytes} bytes`);
  return JSON.parse(text) as unknown;
}

/** JSONata's notion of truth for a condition: false, null, 0, "" and empty results are false. */
export function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(truthy);
  if (value !== null && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}
