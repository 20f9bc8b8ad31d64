import fs from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Config } from '../../src/config/config';
import { DomainError } from '../../src/common/errors';
import { RequestContext } from '../../src/context/context';
import { createDataSource } from '../../src/db/data-source';
import type { Role } from '../../src/modules/api-keys/api-key.entity';
import { registerObservers } from '../../src/server/observers';
import { createServices, type ServiceOptions, type Services } from '../../src/server/services';
import { testConfig, testLogger, unique } from './env';
import { recordSecret } from './run-record';

/**
 * The medium tier: the process's services, built by `createServices` on the test database as a hub
 * builds them, called directly with a request context: no HTTP server, no Apollo, no schema. For tests
 * whose assertions are about logic (statistics, state machines, validation, what SQL returns); what
 * crosses HTTP or WebSocket (headers, status codes, the GraphQL layer) stays end to end.
 *
 * Only `createServices` and public service methods: never a service's constructor.
 */
export interface TestServices extends Services {
  /** A system context, for arranging data. */
  system: RequestContext;
  /**
   * A context for a new API key of `role`, limited to `projectIds` (null: every project), whose
   * principal comes from authenticating the key as a request's would.
   */
  as(role: Role, projectIds?: string[] | null): Promise<RequestContext>;
  /** Ends the services and the database connections, and removes the artifacts folder. */
  close(): Promise<void>;
}

export interface TestServicesOptions {
  /** Injected clock. */
  now?: () => Date;
  /** Swapped parts (connector adapters, their HTTP tuning). */
  services?: ServiceOptions;
  /** Called with every SQL statement, for tests that count them. */
  onQuery?: (sql: string) => void;
}

/** Builds the services on the test database (migrated by global-setup). */
export async function startTestServices(
  overrides: Partial<Config> = {},
  options: TestServicesOptions = {},
): Promise<TestServices> {
  const { config, dataDir } = testConfig(overrides);
  const logger = testLogger(config.logLevel);
  const db = createDataSource({
    url: config.databaseUrl!,
    poolSize: config.dbPoolSize,
    applicationName: config.dbApplicationName,
    onQuery: options.onQuery,
    logger,
  });
  await db.initialize();
  const services = createServices(db, config, logger, options.now, options.services);
  registerObservers(services, config);
  // Every key made here is a secret of the run: the scan looks for it in what the suite wrote.
  const apiKeys = services.apiKeys;
  const create = apiKeys.create.bind(apiKeys);
  apiKeys.create = async (ctx, input) => {
    const created = await create(ctx, input);
    recordSecret('API key', created.secret);
    return created;
  };
  const system = RequestContext.system(logger, 'test');
  const close = services.close.bind(services);
  return Object.assign(services, {
    system,
    async as(role: Role, projectIds: string[] | null = null): Promise<RequestContext> {
      const { secret } = await apiKeys.create(system, { name: unique(role.toLowerCase()), role, projectIds });
      const principal = await apiKeys.authenticate(secret);
      if (!principal) throw new Error(`a new ${role} key did not authenticate`);
      return new RequestContext(randomUUID(), principal, logger);
    },
    async close(): Promise<void> {
      await close();
      await db.destroy();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** What a refused call would show a client: its code, its extensions (the `field`) and its message. */
export interface Refusal {
  code: string;
  field?: string;
  message: string;
  [extension: string]: unknown;
}

/**
 * Awaits a call that must be refused with a domain error, and returns what the API would put in
 * `extensions` beside the message. Any other outcome fails the test.
 */
export async function refusal(call: Promise<unknown>): Promise<Refusal> {
  let result: unknown;
  try {
    result = await call;
  } catch (error) {
    if (error instanceof DomainError)
      return { ...error.extensions, code: error.code, message: error.message };
    throw error;
  }
  throw new Error(`expected a refusal, got ${JSON.stringify(result)}`);
}

/** Stores `bytes` as an artifact of `project` (slug or id), as `PUT /artifacts/sha256/<hex>` does; returns its sha256. */
export async function storeArtifact(
  services: TestServices,
  ctx: RequestContext,
  bytes: Buffer,
  project: string,
): Promise<string> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await services.artifacts.upload(ctx, sha256, project, Readable.from([bytes]), bytes.length);
  return sha256;
}
