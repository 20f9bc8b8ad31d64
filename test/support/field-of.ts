import { BadInputError } from '../../src/common/errors';

/**
 * The field a call's BAD_USER_INPUT names, or undefined when the call returns. Any other error is
 * thrown on: a unit test of validation must not mistake a crash for a refusal.
 */
export function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof BadInputError) return error.extensions.field as string;
    throw error;
  }
  return undefined;
}
