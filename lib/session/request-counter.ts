import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface RequestCounts {
  /** HTTP requests sent (every retry attempt counts). */
  requests: number;
  byCommand: Record<string, number>;
  requestBytes: number;
  responseBytes: number;
}

export interface RequestCounter {
  counts(): RequestCounts;
  reset(): void;
}

/** Counts the client's HTTP requests by command, and request/response body bytes (for tests and the bench). */
export function attachRequestCounter(client: DynamoDBClient): RequestCounter {
  let counts: RequestCounts = { requests: 0, byCommand: {}, requestBytes: 0, responseBytes: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { body?: unknown };
      counts.requests++;
      counts.byCommand[context.commandName ?? 'unknown'] = (counts.byCommand[context.commandName ?? 'unknown'] ?? 0) + 1;
      if (typeof request.body === 'string' || request.body instanceof Uint8Array) counts.requestBytes += Buffer.byteLength(request.body);
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> }).headers ?? {};
      counts.responseBytes += Number(headers['content-length'] ?? 0);
      return result;
    },
    { step: 'deserialize', name: 'sessionRequestCounter', override: true },
  );
  return {
    counts: () => structuredClone(counts),
    reset: () => {
      counts = { requests: 0, byCommand: {}, requestBytes: 0, responseBytes: 0 };
    },
  };
}
