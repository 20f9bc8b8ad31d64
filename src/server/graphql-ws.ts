import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import {
  GraphQLError,
  createSourceEventStream,
  execute,
  parse,
  type ExecutionArgs,
  type ExecutionResult,
  specifiedRules,
  validate,
  getOperationAST,
  type GraphQLSchema,
  type ValidationRule,
  type GraphQLFormattedError,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocket, WebSocketServer } from 'ws';
import type { Principal } from '../auth/abilities';
import type { RequestContext } from '../context/context';
import { tokenLimitError } from './limits';

export interface WsOptions {
  httpServer: Server;
  schema: GraphQLSchema;
  rules: ValidationRule[];
  /**
   * The principal behind a connection's Authorization value: null when there is none or it is unknown,
   * revoked or expired; throws when the key cannot be checked.
   */
  authenticate: (authorization: string | undefined) => Promise<Principal | null>;
  /** Builds the context of one operation from the connection's authorization; throws when it is bad. */
  context: (authorization: string | undefined, requestId: string | undefined) => Promise<RequestContext>;
  formatError: (error: GraphQLError, ctx?: RequestContext, requestId?: string) => GraphQLFormattedError;
  maxPayload: number;
  /** Most tokens in one operation's document (`parse(…, { maxTokens })`). */
  maxTokens: number;
  /** Most open connections of one key, on this process. */
  maxConnectionsPerKey: number;
  /** A connection with no operation running for this long is closed. */
  idleTimeoutMs: number;
}

/** A WebSocket server's handle: shutdown, and the sockets of keys revoked meanwhile. */
export interface GraphqlWs {
  close: () => Promise<void>;
  /** Closes every connection of `keyId` (4403 with `reason`); its operations get no further event. */
  closeKey: (keyId: string, reason: string) => void;
  /** The keys holding open connections. */
  keyIds: () => string[];
}

/** Close code for a connection whose key is missing, unknown, revoked or expired at `connection_init`. */
export const CLOSE_UNAUTHENTICATED = CloseCode.Unauthorized;
/** Close code for a key that may not (or no longer) hold this connection: revoked, or over its cap. */
export const CLOSE_FORBIDDEN = CloseCode.Forbidden;
/** Close code for a connection left idle: normal closure, so a client reconnects when it needs to. */
export const CLOSE_IDLE = 1000;
/** How long a socket may stay open before it sends `connection_init`. */
const CONNECTION_INIT_TIMEOUT_MS = 3_000;

/** A request error carrying the code Apollo gives the same error over HTTP, unless it has its own. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  if (typeof error.extensions.code === 'string') return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

/**
 * Results of one event, per subscription shape: an event is executed once for all subscribers of the
 * same operation text, variables and key (so the same rights), not once per subscriber. Keyed weakly
 * by the event payload, which the event bus shares between its subscribers.
 */
const sharedResults = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

/**
 * graphql-js `subscribe`, except that each event's result is shared between subscriptions with the
 * same shape: with 1,000 subscribers of one alert, the selection is resolved once per distinct
 * (operation, variables, key) instead of 1,000 times. Each event is resolved in a context of its own
 * (fresh loaders): the operation's context lives as long as the socket, and its loaders' cache would
 * answer a later event with what an earlier one read.
 */
async function sharedSubscribe(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in Object(stream))) return stream as ExecutionResult;
  const source = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const context = args.contextValue as RequestContext;
  const keyId = context.principal?.keyId ?? '';
  const shape = `${args.document.loc?.source.body ?? ''}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${keyId}`;
  const run = (payload: unknown): Promise<ExecutionResult> => {
    const one = (): Promise<ExecutionResult> =>
      Promise.resolve(execute({ ...args, rootValue: payload, contextValue: context.forEvent() }));
    if (payload === null || typeof payload !== 'object') return one();
    let byShape = sharedResults.get(payload);
    if (!byShape) sharedResults.set(payload, (byShape = new Map()));
    let result = byShape.get(shape);
    if (!result) byShape.set(shape, (result = one()));
    return result;
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const item = await source.next();
      if (item.done) return { done: true, value: undefined };
      return { done: false, value: await run(item.value) };
    },
    async return() {
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** Close code for a server going away (RFC 6455 §7.4.1). */
export const CLOSE_GOING_AWAY = 1001;

/**
 * graphql-ws on `/graphql` of the same HTTP server. The key comes from `connectionParams.authorization`
 * (browsers cannot set headers on a WebSocket) or the upgrade request's Authorization header; every
 * operation gets its own context and passes the same validation rules as HTTP.
 */
export function attachGraphqlWs(options: WsOptions): GraphqlWs {
  const wss = new WebSocketServer({
    server: options.httpServer,
    path: '/graphql',
    maxPayload: options.maxPayload,
  });
  // Operation ids are unique per connection only: contexts are kept per connection.
  const contexts = new WeakMap<object, Map<string, RequestContext>>();
  const contextsOf = (ctx: object): Map<string, RequestContext> => {
    let map = contexts.get(ctx);
    if (!map) contexts.set(ctx, (map = new Map()));
    return map;
  };
  const authorizationOf = (ctx: {
    connectionParams?: Readonly<Record<string, unknown>>;
    extra: { request: { headers: Record<string, string | string[] | undefined> } };
  }): string | undefined => {
    const fromParams = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
    if (typeof fromParams === 'string') return fromParams;
    const header = ctx.extra.request.headers.authorization;
    return typeof header === 'string' ? header : undefined;
  };
  // Acknowledged connections, by key, for the per-key cap and for closing a revoked key's sockets.
  const byKey = new Map<string, Set<WebSocket>>();
  const idleTimers = new Map<WebSocket, { timer?: NodeJS.Timeout; running: () => number }>();
  /** (Re)starts a connection's idle clock: on any operation starting or ending. */
  const touch = (socket: WebSocket): void => {
    const idle = idleTimers.get(socket);
    if (!idle) return;
    clearTimeout(idle.timer);
    idle.timer = setTimeout(() => {
      // A long subscription is not idle: look again later.
      if (idle.running() > 0) touch(socket);
      else socket.close(CLOSE_IDLE, 'idle timeout');
    }, options.idleTimeoutMs);
    idle.timer.unref();
  };
  useServer(
    {
      schema: options.schema,
      subscribe: sharedSubscribe,
      connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
      // The key is checked once, at connection_init: an anonymous socket never gets to send an operation.
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const authorization = authorizationOf(ctx);
        let principal: Principal | null;
        try {
          principal = await options.authenticate(authorization);
        } catch {
          // Logged by `authenticate`; the key could not be checked, which is not the caller's fault.
          socket.close(CloseCode.InternalServerError, 'Internal server error');
          return false;
        }
        if (!principal) {
          socket.close(
            CLOSE_UNAUTHENTICATED,
            authorization ? 'API key unknown, revoked or expired' : 'API key required',
          );
          return false;
        }
        if (socket.readyState !== WebSocket.OPEN) return false;
        let sockets = byKey.get(principal.keyId);
        if (!sockets) byKey.set(principal.keyId, (sockets = new Set()));
        // A connection that is closing no longer holds a slot: its client may already be reconnecting.
        const open = [...sockets].filter((s) => s.readyState === WebSocket.OPEN).length;
        if (open >= options.maxConnectionsPerKey) {
          socket.close(
            CLOSE_FORBIDDEN,
            `more than ${options.maxConnectionsPerKey} connections for this API key`,
          );
          return false;
        }
        const keyId = principal.keyId;
        sockets.add(socket);
        idleTimers.set(socket, { running: () => Object.keys(ctx.subscriptions).length });
        socket.once('close', () => {
          clearTimeout(idleTimers.get(socket)?.timer);
          idleTimers.delete(socket);
          const own = byKey.get(keyId);
          own?.delete(socket);
          if (own?.size === 0) byKey.delete(keyId);
        });
        touch(socket);
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        touch(ctx.extra.socket);
        let document;
        try {
          document = parse(payload.query, { maxTokens: options.maxTokens });
        } catch (error) {
          const tooLong = tokenLimitError(error, options.maxTokens);
          if (tooLong) return [tooLong];
          const parseError = error instanceof GraphQLError ? error : new GraphQLError('malformed query');
          return [withCode(parseError, 'GRAPHQL_PARSE_FAILED')];
        }
        const errors = validate(options.schema, document, [...specifiedRules, ...options.rules]);
        if (errors.length) return errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
        const operation = getOperationAST(document, payload.operationName);
        if (!operation)
          return [withCode(new GraphQLError('unknown operation'), 'OPERATION_RESOLUTION_FAILURE')];
        let contextValue: RequestContext;
        try {
          contextValue = await options.context(authorizationOf(ctx), undefined);
        } catch (error) {
          // A GraphQLError here is a verdict on the key (UNAUTHENTICATED); anything else is the server's fault.
          if (error instanceof GraphQLError) return [error];
          return [
            new GraphQLError('context creation failed', {
              originalError: error instanceof Error ? error : undefined,
            }),
          ];
        }
        contextsOf(ctx).set(id, contextValue);
        return {
          schema: options.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
        };
      },
      onNext: (ctx, id, _payload, _args, result) => {
        if (!result.errors?.length) return;
        const context = contextsOf(ctx).get(id);
        // Errors with no data at all are variable-coercion errors: BAD_USER_INPUT, as over HTTP.
        const errors =
          'data' in result ? result.errors : result.errors.map((e) => withCode(e, 'BAD_USER_INPUT'));
        return { ...result, errors: errors.map((e) => options.formatError(e, context)) };
      },
      onError: (ctx, id, _payload, errors) => {
        const context = contextsOf(ctx).get(id);
        // Without a context (it failed to build) the error and its log line still share an id.
        const requestId = context?.requestId ?? randomUUID();
        return errors.map((e) =>
          options.formatError(e, context, requestId),
        ) as unknown as readonly GraphQLError[];
      },
      onComplete: (ctx, id) => {
        contextsOf(ctx).delete(id);
        touch(ctx.extra.socket);
      },
    },
    wss,
  );
  return {
    keyIds: () => [...byKey.keys()],
    closeKey: (keyId, reason) => {
      for (const socket of byKey.get(keyId) ?? []) socket.close(CLOSE_FORBIDDEN, reason);
    },
    close: async () => {
      for (const client of wss.clients) client.close(CLOSE_GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
