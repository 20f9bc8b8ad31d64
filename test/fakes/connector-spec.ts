import type {
  ConnectorDefinition,
  ConnectorSession,
  WebhookVerdict,
} from '../../connectors/_shared/contract';
import { ConnectorError } from '../../connectors/_shared/errors';
import { validateFields } from '../../connectors/_shared/validate';
import { mulberry32 } from '../../src/common/random';

/** Helpers the connector specs share: opening a session against a fake, and reading what it refused. */

/** A session and every backoff its HTTP client asked for, in ms. */
export interface OpenedSession {
  session: ConnectorSession;
  sleeps: number[];
}

/**
 * Opens a session of `connector` with the config and secrets validated as the hub does, a fixed clock, a
 * seeded jitter, short timeouts and sleeps that are recorded instead of waited.
 */
export function openSession(
  connector: ConnectorDefinition,
  config: Record<string, unknown>,
  secrets: Record<string, unknown>,
  options: { maxRetries?: number } = {},
): OpenedSession {
  const sleeps: number[] = [];
  const values = validateFields(connector.spec.config, config, 'config');
  const valid = validateFields(connector.spec.secrets, secrets, 'secrets') as Record<string, string>;
  const session = connector.open(values, valid, {
    now: () => new Date('2024-06-01T00:00:00Z'),
    http: {
      timeoutMs: 200,
      maxRetries: options.maxRetries ?? 8,
      backoffMs: 5,
      random: mulberry32(1),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
  });
  return { session, sleeps };
}

/** The ConnectorError a promise rejects with; any other outcome fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

/** The ConnectorError a call throws; any other outcome fails the test. */
export function thrownBy(fn: () => unknown): ConnectorError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

/** A webhook verdict as its status alone (undefined when accepted), for comparing refusals. */
export const refusal = (verdict: WebhookVerdict) => (verdict.ok ? undefined : { status: verdict.status });
