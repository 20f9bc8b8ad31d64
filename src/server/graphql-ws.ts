import type { Server } from 'node:http';
import {
  GraphQLError,
  parse,
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
  formatError: (error: GraphQLError, ctx?: RequestContext) => GraphQLFormattedError;
  maxPayload: number;
}

/** Close code for a server going away (RFC 6455 §7.4.1). */
export const CLOSE_GOING_AWAY = 1001;

/**
 * graphql-ws on `/graphql` of the same HTTP server. The key comes from `connectionParams.authorization`
 * (browsers cannot set headers on a WebSocket) or the upgrade request's Authorization header; every
 * operation gets its own context and passes the same validation rules as HTTP.
 */
export function attachGraphqlWs(options: WsOptions): { close: () => Promise<void> } {
  const wss = new WebSocketServer({ server: options.httpServer, path: '/graphql', maxPayload: options.maxPayload });
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
      onSubscribe: async (ctx, id, payload) => {
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('malformed query')];
        }
        const errors = validate(options.schema, document, [...specifiedRules, ...options.rules]);
        if (errors.length) return errors;
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [new GraphQLError('unknown operation')];
        let contextValue: RequestContext;
        try {
          contextValue = await options.context(authorizationOf(ctx), undefined);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('context creation failed')];
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
        return { ...result, errors: result.errors.map((e) => options.formatError(e, context)) };
      },
      onError: (ctx, id, _payload, errors) => {
        const context = contextsOf(ctx).get(id);
        return errors.map((e) => options.formatError(e, context)) as unknown as readonly GraphQLError[];
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
