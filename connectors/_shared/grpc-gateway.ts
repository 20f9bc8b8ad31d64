import type { ConnectorEnv } from './contract';
import { ConnectorError, permanent } from './errors';
import { HttpClient } from './http';
import type { HttpRequest } from './http';

/** A JSON object (not an array, not null). */
export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A 4xx the server explained (a gRPC status as JSON); rethrown by `send` with the operation. */
class Rejection extends ConnectorError {
  constructor(
    readonly summary: string,
    status: number,
    vendor: string,
  ) {
    super('PERMANENT', `${vendor} answered ${status}: ${summary}`, { status });
  }
}

/** What a client of a grpc-gateway HTTP API needs: where, which bearer credential, and how to read errors. */
export interface GrpcGatewayOptions {
  /** The vendor's name in error messages. */
  vendor: string;
  baseUrl: string;
  /** The `Authorization` header sent with every request; none when the server runs without auth. */
  authorization?: string;
  /** Credentials scrubbed from every error. */
  secrets: string[];
  /** The explanation in an error body (default its `message`). */
  messageOf?: (body: Record<string, unknown>) => unknown;
}

/**
 * The HTTP side of a grpc-gateway API (the JSON face of a gRPC service), as Argo Server and Temporal's
 * frontend speak it: errors are gRPC statuses as JSON (`{code, message}`) under the mapped HTTP status
 * (AlreadyExists 409, NotFound 404, Unauthenticated 401, PermissionDenied 403). A 4xx other than 401,
 * 403, 408 and 429 (which keep the generic rules) is PERMANENT and names the operation.
 */
export class GrpcGatewayHttp {
  private readonly http: HttpClient;

  constructor(
    private readonly options: GrpcGatewayOptions,
    env: ConnectorEnv,
  ) {
    const messageOf = options.messageOf ?? ((body) => body.message);
    this.http = new HttpClient({
      ...env.http,
      vendor: options.vendor,
      baseUrl: options.baseUrl,
      classify: (status, body) => {
        if (status < 400 || status >= 500 || [401, 403, 408, 429].includes(status)) return undefined;
        const message = isObject(body) ? messageOf(body) : undefined;
        return new Rejection(
          typeof message === 'string' && message !== '' ? message.slice(0, 500) : 'no explanation given',
          status,
          options.vendor,
        );
      },
      secrets: options.secrets,
    });
  }

  /**
   * The reply's body. `explain` may turn a refusal into a more telling error (a missing template, an
   * unknown namespace); else it is PERMANENT with the status and the server's explanation.
   */
  async send(
    req: HttpRequest,
    explain?: (summary: string, status: number) => ConnectorError | undefined,
  ): Promise<unknown> {
    const headers: Record<string, string> = { ...req.headers };
    if (this.options.authorization) headers.authorization = this.options.authorization;
    try {
      return (await this.http.request({ ...req, headers })).body;
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      const status = error.details.status as number;
      throw (
        explain?.(error.summary, status) ??
        permanent(
          `${this.options.vendor} ${req.operation} answered ${status}: ${error.summary}`,
          error.details,
        )
      );
    }
  }
}
