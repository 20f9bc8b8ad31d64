import fs from 'node:fs';
import type { Config } from '../src/config/config';
import { RequestContext } from '../src/context/context';
import { Role } from '../src/modules/api-keys/api-key.entity';
import { startHub, type Hub, type HubOptions } from '../src/server/hub';
import { testConfig, testLogger, unique } from './support/env';
import { installRecorders, recordResponsesFrom, recordSecret } from './support/run-record';

export { TEST_SECRET_KEY, unique } from './support/env';

installRecorders();

export interface TestHub extends Hub {
  /** An unscoped admin key. */
  adminKey: string;
  /** POSTs a GraphQL operation; returns the parsed body and status. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
  ): Promise<GqlResult<T>>;
  /** Like `gql`, for operations that must succeed: returns `data`, and throws with the errors if any. */
  gqlOk<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
  ): Promise<T>;
  /** Creates a key with the given role and scope, returning its secret. */
  key(role: Role, projectIds?: string[] | null): Promise<string>;
  /** A system context for arranging data through services. */
  system: RequestContext;
}

export interface GqlResult<T> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; field?: string } }>;
}

/**
 * Starts a whole hub on an ephemeral port against the test database (DATABASE_URL, set by
 * global-setup), with artifacts in a temporary folder.
 */
export async function startTestHub(
  overrides: Partial<Config> = {},
  options: HubOptions = {},
): Promise<TestHub> {
  const { config, dataDir } = testConfig(overrides);
  const logger = testLogger(config.logLevel);
  const hub = await startHub(config, { logger, ...options });
  recordResponsesFrom(hub.url);
  recordSecret('API key', hub.seeded.adminKey);
  // Every key this hub issues, by the harness, a test or createApiKey: the scan looks for them all.
  const apiKeys = hub.services.apiKeys;
  const create = apiKeys.create.bind(apiKeys);
  apiKeys.create = async (ctx, input) => {
    const created = await create(ctx, input);
    recordSecret('API key', created.secret);
    return created;
  };
  const system = RequestContext.system(logger, 'test');
  const { secret: adminKey } = await hub.services.apiKeys.create(system, {
    name: unique('admin'),
    role: Role.ADMIN,
  });
  const gql: TestHub['gql'] = async (query, variables, key = adminKey) => {
    const res = await fetch(hub.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as object) };
  };
  const gqlOk: TestHub['gqlOk'] = async <T>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
  ): Promise<T> => {
    const res = await gql<T>(query, variables, key);
    if (res.errors) throw new Error(`the operation failed: ${JSON.stringify(res.errors)}`);
    return res.data!;
  };
  return {
    ...hub,
    adminKey,
    gql,
    gqlOk,
    system,
    key: async (role, projectIds = null) =>
      (await hub.services.apiKeys.create(system, { name: unique(role.toLowerCase()), role, projectIds }))
        .secret,
    close: async () => {
      await hub.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
