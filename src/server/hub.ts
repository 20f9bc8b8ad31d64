import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { DataSource } from 'typeorm';
import type { Principal } from '../auth/abilities';
import { CACHE_TTL_MS as KEY_CACHE_TTL_MS } from '../modules/api-keys/api-key.service';
import { RateLimitedError, RateLimiter } from '../auth/rate-limiter';
import type { Config } from '../config/config';
import {
  DatabaseUnavailableError,
  ErrorCode,
  UnauthenticatedError,
  UnavailableError,
  formatError,
  internalError,
  isConnectionError,
  isInternal,
  originalOf,
  statusFor,
} from '../common/errors';
import { Logger } from '../common/logger';
import { RequestContext } from '../context/context';
import { createDataSource, migrate } from '../db/data-source';
import { EmbeddedPostgres } from '../db/embedded-postgres';
import { startApollo } from './apollo';
import { ARTIFACT_PATH, serveArtifact } from './artifact-route';
import { AUTOMATION_WEBHOOK_PATH, CONNECTOR_WEBHOOK_PATH, serveWebhook } from './webhook-route';
import { CorsPolicy } from './cors';
import { attachGraphqlWs } from './graphql-ws';
import { header, readBody, readiness, send, validRequestId } from './http-io';
import { queryLimitsRule } from './limits';
import { Metrics } from './metrics';
import { registerObservers } from './observers';
import { buildNerveSchema } from './schema';
import { createServices, type ServiceOptions, type Services } from './services';
import { seed, seedDemoModels, type SeedResult } from './seed';

export interface HubOptions {
  logger?: Logger;
  /** Injected clock, for tests. */
  now?: () => Date;
  /** Called with every SQL statement, for tests that count them. */
  onQuery?: (sql: string) => void;
  /** Swapped services parts (connector adapters, their HTTP tuning), for tests. */
  services?: ServiceOptions;
  /** How often the keys of open WebSockets are re-checked (default: the key cache's 5 s), for tests. */
  keyRecheckMs?: number;
}

/** A running hub: what `main.ts` starts and what the end-to-end tests drive. */
export interface Hub {
  url: string;
  port: number;
  services: Services;
  db: DataSource;
  seeded: SeedResult;
  /** Stops accepting, lets in-flight requests finish, closes sockets and the database. */
  close(): Promise<void>;
}

/** Boots a hub: database (embedded unless a URL is configured), migrations, services, HTTP and WS. */
export async function startHub(config: Config, options: HubOptions = {}): Promise<Hub> {
  const logger = options.logger ?? new Logger(config.logLevel);
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await EmbeddedPostgres.open(path.join(config.dataDir, 'pgdata'));
    url = await embedded.listen(0, (error) => logger.error('embedded database connection failed', { error }));
    logger.info('embedded database started', { dataDir: config.dataDir });
  }
  const db = createDataSource({
    url,
    poolSize: config.dbPoolSize,
    applicationName: config.dbApplicationName,
    onQuery: options.onQuery,
    logger,
  });
  await db.initialize();
  const applied = await migrate(db);
  if (applied.length) logger.info('migrations applied', { applied });

  const services = createServices(db, config, logger, options.now, options.services);
  const seeded = await seed(services);
  const schema = await buildNerveSchema(services);
  const metrics = new Metrics();
  const rules = [queryLimitsRule(config.limits)];
  const limiter = new RateLimiter(config.rateLimits, {
    now: options.now ? () => options.now!().getTime() : undefined,
  });
  // Every role's series from the start, so a rate over it reads 0 rather than nothing.
  for (const role of Object.keys(config.rateLimits)) metrics.rateLimited.inc({ role }, 0);
  /**
   * Formats an error for a client and logs it, with its request id, when it is the server's fault.
   * An error made by `internalError()` was logged where it was raised.
   */
  const report = (
    formatted: GraphQLFormattedError,
    error: unknown,
    requestId?: string,
  ): GraphQLFormattedError => {
    const out = formatError(formatted, error, requestId);
    const loggedAlready =
      error instanceof GraphQLError && error.extensions.code === ErrorCode.INTERNAL_SERVER_ERROR;
    if (isInternal(out) && !loggedAlready) {
      logger.error('unhandled error', {
        requestId: out.extensions?.requestId,
        error: originalOf(error),
        path: formatted.path,
      });
    } else if (out.extensions?.code === ErrorCode.UNAVAILABLE && isConnectionError(originalOf(error))) {
      logger.warn('database unavailable', { requestId: out.extensions.requestId, error: originalOf(error) });
    }
    return out;
  };

  const httpServer = http.createServer();
  const apollo = await startApollo({ schema, rules, config, httpServer, metrics, report });

  /** The principal of an Authorization value: undefined without one, null for a bad one. */
  const principalOf = async (
    authorization: string | undefined,
    requestId: string,
  ): Promise<Principal | null | undefined> => {
    if (!authorization) return undefined;
    const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    try {
      return token ? await services.apiKeys.authenticate(token) : null;
    } catch (error) {
      // The key could not be checked (the database is away): the server's fault, not the caller's.
      if (isConnectionError(error)) {
        logger.warn('database unavailable', { requestId, error });
        const unavailable = new DatabaseUnavailableError(requestId);
        throw new GraphQLError(unavailable.message, {
          originalError: unavailable,
          extensions: {
            ...unavailable.extensions,
            code: unavailable.code,
            http: { status: 503, headers: new HeaderMap([['retry-after', '1']]) },
          },
        });
      }
      logger.error('unhandled error', { requestId, error });
      throw internalError(requestId);
    }
  };

  const contextFor = async (
    authorization: string | undefined,
    requestId: string | undefined,
  ): Promise<RequestContext> => {
    const id = validRequestId(requestId);
    const principal = await principalOf(authorization, id);
    if (principal === undefined) return new RequestContext(id, undefined, logger);
    if (!principal) {
      throw new GraphQLError('the API key is unknown, revoked or expired', {
        extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
      });
    }
    return new RequestContext(id, principal, logger);
  };

  /**
   * Counts one request of the caller's key against its role's per-minute limit (anonymous callers are
   * refused further on). Over it: RATE_LIMITED, thrown as a GraphQLError whose `http` extension gives
   * Apollo the status and Retry-After header; formatError shows the domain error behind it (message,
   * code, `retryAfterSeconds`), over HTTP and WebSocket alike.
   */
  const admit = (ctx: RequestContext): RequestContext => {
    const refusal = ctx.principal && limiter.check(ctx.principal);
    if (!refusal) return ctx;
    metrics.rateLimited.inc({ role: refusal.role });
    throw new GraphQLError(refusal.message, {
      originalError: refusal,
      extensions: {
        code: refusal.code,
        http: {
          status: statusFor(refusal.code),
          headers: new HeaderMap([['retry-after', String(refusal.retryAfterSeconds)]]),
        },
      },
    });
  };

  const sendError = (res: ServerResponse, error: unknown, requestId: string): void => {
    const out = report({ message: '' }, error, requestId);
    send(res, statusFor(out.extensions?.code), { errors: [out] });
  };

  /** Authenticates a non-GraphQL route: a principal is required. */
  const principalContext = async (req: IncomingMessage, requestId: string): Promise<RequestContext> => {
    let ctx: RequestContext;
    try {
      ctx = await contextFor(header(req, 'authorization'), requestId);
    } catch (error) {
      // Only a rejected key is the caller's problem; a database outage is not a bad key.
      if (error instanceof GraphQLError && error.extensions.code === ErrorCode.UNAUTHENTICATED)
        throw new UnauthenticatedError('the API key is unknown, revoked or expired');
      throw error;
    }
    if (!ctx.principal) throw new UnauthenticatedError();
    return ctx;
  };

  const graphql = async (
    req: IncomingMessage,
    res: ServerResponse,
    search: string,
    requestId: string,
  ): Promise<void> => {
    // The key comes first: an anonymous caller or a bad key is refused on its headers, before a byte of
    // its body is read or parsed (handle() closes the connection on the unread rest).
    const ctx = await principalContext(req, requestId);
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, res, config.maxRequestBytes);
      if ((header(req, 'content-type') ?? '').includes('application/json')) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          send(res, 400, {
            errors: [
              {
                message: 'request body is not valid JSON',
                extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'body' },
              },
            ],
          });
          return;
        }
      } else {
        body = raw.toString('utf8');
      }
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body },
      context: async () => admit(ctx),
    });
    res.statusCode = response.status ?? 200;
    for (const [key, value] of response.headers) res.setHeader(key, value);
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };

  let shuttingDown = false;
  const cors = new CorsPolicy(config.corsOrigins);
  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> => {
    res.setHeader('x-request-id', requestId);
    const preflight = req.method === 'OPTIONS';
    for (const [name, value] of Object.entries(cors.headersFor(header(req, 'origin'), preflight)))
      res.setHeader(name, value);
    const [pathname, query = ''] = (req.url ?? '/').split('?', 2);
    const search = query ? `?${query}` : '';
    let route = pathname;
    try {
      if (preflight) {
        // A browser's preflight carries no key; what it may send is in the CORS headers, if any.
        route = 'preflight';
        res.writeHead(204, { allow: 'GET, HEAD, POST, PUT, OPTIONS' });
        res.end();
      } else if (pathname === '/graphql') {
        await graphql(req, res, search, requestId);
      } else if (pathname === '/healthz') {
        send(res, 200, { status: 'ok' });
      } else if (pathname === '/readyz') {
        const ready = await readiness(db, shuttingDown);
        send(res, ready.ok ? 200 : 503, ready);
      } else if (pathname === '/metrics') {
        await principalContext(req, requestId);
        send(res, 200, await metrics.registry.metrics(), { 'content-type': metrics.registry.contentType });
      } else if (CONNECTOR_WEBHOOK_PATH.test(pathname)) {
        route = '/webhooks/connectors/:id';
        const id = CONNECTOR_WEBHOOK_PATH.exec(pathname)![1];
        await serveWebhook(req, res, config.maxWebhookBytes, config.publicUrl, (request) =>
          services.connectorWebhooks.receive(id, request),
        );
      } else if (AUTOMATION_WEBHOOK_PATH.test(pathname)) {
        route = '/webhooks/automations/:id';
        const id = AUTOMATION_WEBHOOK_PATH.exec(pathname)![1];
        await serveWebhook(req, res, config.maxWebhookBytes, config.publicUrl, (request) =>
          services.automationTriggers.webhook(id, request),
        );
      } else {
        const match = ARTIFACT_PATH.exec(pathname);
        if (match) {
          route = '/artifacts/sha256/:hex';
          const ctx = admit(await principalContext(req, requestId));
          await serveArtifact(services.artifacts, ctx, req, res, match[1], new URLSearchParams(query));
        } else {
          route = 'unknown';
          send(res, 404, { errors: [{ message: `no route for ${pathname}` }] });
        }
      }
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
      } else {
        // A refused request's body may still be coming (an anonymous 10 MB document, an upload over the
        // limit): closing beats reading it only to throw it away.
        if (!req.complete) res.setHeader('connection', 'close');
        const original = originalOf(error);
        if (original instanceof UnavailableError && original.extensions.retryAfterSeconds !== undefined)
          res.setHeader('retry-after', String(original.extensions.retryAfterSeconds));
        if (original instanceof RateLimitedError) {
          res.setHeader('retry-after', String(original.retryAfterSeconds));
        }
        sendError(res, error, requestId);
      }
    } finally {
      metrics.http.inc({ route, status: String(res.statusCode) });
    }
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = validRequestId(header(req, 'x-request-id'));
    void handle(req, res, requestId);
  };
  httpServer.on('request', onRequest);
  // Without this listener Node answers `Expect: 100-continue` itself, before the key is checked, and an
  // anonymous client starts sending its body; `invite()` answers it once the request may proceed.
  httpServer.on('checkContinue', onRequest);
  httpServer.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });

  const ws = attachGraphqlWs({
    httpServer,
    schema,
    rules,
    authenticate: async (authorization) => (await principalOf(authorization, randomUUID())) ?? null,
    // Each subscribe message is one operation and counts once; the connection itself does not.
    context: async (authorization, requestId) => admit(await contextFor(authorization, requestId)),
    formatError: (error, ctx, requestId) => report(error.toJSON(), error, ctx?.requestId ?? requestId),
    maxPayload: config.maxRequestBytes,
    maxTokens: config.maxQueryTokens,
    maxConnectionsPerKey: config.wsMaxConnectionsPerKey,
    idleTimeoutMs: config.wsIdleTimeoutMs,
  });
  registerObservers(services, config, { metrics, sockets: ws });
  // And should an event be lost, or a key expire, its sockets still close within the key cache's delay.
  const recheck = setInterval(() => {
    services.apiKeys
      .recheck(ws.keyIds())
      .catch((error) => logger.warn('the keys of open WebSockets could not be re-checked', { error }));
  }, options.keyRecheckMs ?? KEY_CACHE_TTL_MS);
  recheck.unref();

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const port = (httpServer.address() as { port: number }).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const graphqlUrl = `http://${host}:${port}/graphql`;
  if (seeded.demoProject) {
    // Through the API, so the hub must be listening; a failure leaves the demo unfinished (the next start
    // resumes it), not the hub down.
    const demo = await seedDemoModels(services, graphqlUrl, seeded.demoProject);
    seeded.demoEndpoint = demo.endpoint;
    if (demo.missing.length) seeded.demoMissing = demo.missing;
  }

  if (config.schedulerEnabled) {
    // Every replica flushes its own SLA minutes; the worker role also runs the shared, locked jobs.
    services.scheduler.start((job) => job.everyReplica === true || config.role !== 'api');
    if (config.role !== 'api') {
      await services.connectorSchedules.start();
      await services.automationSchedules.start();
      services.automationDispatcher.start();
      services.automationRunner.start();
    }
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      shuttingDown = true;
      clearInterval(recheck);
      await ws.close();
      // apollo.stop() runs the drain plugin: stop accepting, wait for in-flight requests, then close.
      await apollo.stop();
      // Every answered prediction is in the log buffer by now; write it before the database goes.
      await services.close();
      await db.destroy();
      if (embedded) await embedded.close();
    })());

  return { url: graphqlUrl, port, services, db, seeded, close };
}
