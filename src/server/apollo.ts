import type http from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import type { Config } from '../config/config';
import { ErrorCode, formatError, isInternal } from '../common/errors';
import type { RequestContext } from '../context/context';
import { tokenLimitError } from './limits';
import type { Metrics } from './metrics';

/** Formats an error for a client and logs it, with its request id, when it is the server's fault. */
export type ErrorReport = (
  formatted: GraphQLFormattedError,
  error: unknown,
  requestId?: string,
) => GraphQLFormattedError;

/**
 * The hub's Apollo server, started: CSRF prevention on, landing page and Apollo's reporting off, the
 * HTTP server drained on stop, per-operation metrics and error reports. The hub routes requests to it.
 */
export async function startApollo(options: {
  schema: GraphQLSchema;
  rules: ValidationRule[];
  config: Pick<Config, 'maxQueryTokens'>;
  httpServer: http.Server;
  metrics: Metrics;
  report: ErrorReport;
}): Promise<ApolloServer<RequestContext>> {
  const { schema, rules, config, httpServer, metrics, report } = options;
  const apollo = new ApolloServer<RequestContext>({
    schema,
    validationRules: rules,
    csrfPrevention: true,
    // The hub owns shutdown (its close(), called on SIGTERM by main.ts); Apollo's own signal
    // handlers would race it and re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    // Open to every key (a client generates its types from it); anonymous callers never reach it.
    introspection: true,
    // Parsing stops at the limit: a huge document costs what a legitimate one does, not a stalled loop.
    parseOptions: { maxTokens: config.maxQueryTokens },
    includeStacktraceInErrorResponses: false,
    // Request ids and log lines for these are added by requestPlugin, which has the context.
    formatError: (formatted, error) =>
      tokenLimitError(error, config.maxQueryTokens)?.toJSON() ?? formatError(formatted, error),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      requestPlugin(metrics, report),
    ],
  });
  await apollo.start();
  return apollo;
}

/**
 * Per operation: latency and outcome metrics, and for errors that are the server's fault a log line
 * and the request id in the response (Apollo's formatError has no context to take them from).
 */
function requestPlugin(metrics: Metrics, report: ErrorReport): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) report(error.toJSON(), error, contextValue.requestId);
        },
        async willSendResponse({ operationName, operation, errors, response }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          metrics.observeOperation(
            operationName,
            operation?.operation ?? 'unknown',
            errors?.length ? 'error' : 'ok',
            seconds,
          );
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            if (isInternal(error) || error.extensions?.code === ErrorCode.UNAVAILABLE)
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
          }
        },
      };
    },
  };
}
