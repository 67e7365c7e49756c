/** A loopback HTTP proxy in front of DynamoDB Local that counts the requests and bytes of a child process. */
import { createServer, request as forward, type Server } from 'node:http';

export interface DynamoDbCounts {
  requests: number;
  byOperation: Record<string, number>;
  requestBytes: number;
  responseBytes: number;
  /** In order: each operation, with the sort keys it named for BatchGetItem (item names, no values). */
  log: string[];
}

/** The sort keys a BatchGetItem asks for (e.g. `k#session#491701234567.0`): what a pin reads beyond its load. */
function readKeys(operation: string, body: Buffer): string {
  if (operation !== 'BatchGetItem') return operation;
  try {
    const { RequestItems } = JSON.parse(body.toString('utf8')) as { RequestItems: Record<string, { Keys: Array<{ sk?: { S?: string } }> }> };
    const keys = Object.values(RequestItems).flatMap(({ Keys }) => Keys.map((key) => key.sk?.S ?? '?'));
    return `${operation}(${keys.length}: ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''})`;
  } catch {
    return operation;
  }
}

export interface DynamoDbProxy {
  /** For AWS_ENDPOINT_URL_DYNAMODB. */
  endpoint: string;
  counts(): DynamoDbCounts;
  reset(): void;
  stop(): Promise<void>;
}

export async function startDynamoDbProxy(targetEndpoint: string): Promise<DynamoDbProxy> {
  const target = new URL(targetEndpoint);
  let counts: DynamoDbCounts = { requests: 0, byOperation: {}, requestBytes: 0, responseBytes: 0, log: [] };
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(incoming.headers['x-amz-target'] ?? 'unknown').split('.').pop()!;
      counts.requests++;
      counts.byOperation[operation] = (counts.byOperation[operation] ?? 0) + 1;
      counts.requestBytes += body.length;
      counts.log.push(readKeys(operation, body));
      const upstream = forward(
        { hostname: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.on('data', (chunk: Buffer) => {
            counts.responseBytes += chunk.length;
            outgoing.write(chunk);
          });
          response.on('end', () => outgoing.end());
        },
      );
      upstream.on('error', () => outgoing.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => structuredClone(counts),
    reset: () => void (counts = { requests: 0, byOperation: {}, requestBytes: 0, responseBytes: 0, log: [] }),
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
