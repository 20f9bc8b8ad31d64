import { randomUUID } from 'node:crypto';
import type { ActionResult, ActionSpec, ConfigValues, ConnectorSession } from './contract';
import { badField, permanent } from './errors';
import { validateFields } from './validate';

/** What an adapter that reads no stream and runs one action (an orchestrator's start) is made of. */
export interface ActionSessionOptions {
  /** The vendor's name in error messages. */
  vendor: string;
  /** What the adapter does instead of reading, e.g. "triggers DAG runs". */
  does: string;
  action: ActionSpec;
  check: () => Promise<void>;
  /**
   * Runs the action with its input validated against the action's spec. Without an idempotency key a
   * fresh one is passed: the client's own retries are still safe (one id per call); a retry by the hub is not.
   */
  run: (input: ConfigValues, key: string) => Promise<ActionResult>;
}

/** The session of an adapter that has no stream to read and one action, refusing any other (PERMANENT). */
export function actionSession(options: ActionSessionOptions): ConnectorSession {
  const { action: spec } = options;
  return {
    check: () => options.check(),
    read(stream) {
      throw permanent(`${options.vendor} has no stream "${stream}": this adapter only ${options.does}`);
    },
    async act(action, rawInput, idempotencyKey): Promise<ActionResult> {
      if (action !== spec.name) throw badField('action', `unknown action "${action}"; expected ${spec.name}`);
      const input = validateFields(spec.input, rawInput, action);
      return options.run(input, idempotencyKey ?? randomUUID());
    },
  };
}
