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
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { RequestContext } from '../context/context';

export interface WsOptions {
  httpServer: Server;
  schema: GraphQLSchema;
  rules: ValidationRule[];
  /** Builds the context of one operation from the connection's authorization; throws when it is bad. */
  context: (authorization: string | undefined, requestId: string | undefined) => Promise<RequestContext>;
  formatError: (error: GraphQLError, ctx?: RequestContext, requestId?: string) => GraphQLFormattedError;
  maxPayload: number;
}

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
 * (operation, variables, key) instead of 1,000 times.
 */
async function sharedSubscribe(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in Object(stream))) return stream as ExecutionResult;
  const source = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const keyId = (args.contextValue as RequestContext | undefined)?.principal?.keyId ?? '';
  const shape = `${args.document.loc?.source.body ?? ''}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${keyId}`;
  const run = (payload: unknown): Promise<ExecutionResult> => {
    const one = (): Promise<ExecutionResult> => Promise.resolve(execute({ ...args, rootValue: payload }));
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
export function attachGraphqlWs(options: WsOptions): { close: () => Promise<void> } {
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
  useServer(
    {
      schema: options.schema,
      subscribe: sharedSubscribe,
      onSubscribe: async (ctx, id, payload) => {
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
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
      },
    },
    wss,
  );
  return {
    close: async () => {
      for (const client of wss.clients) client.close(CLOSE_GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
