/**
 * A loopback HTTP proxy in front of DynamoDB Local that counts the requests, bytes and capacity units of a child process.
 * Capacity: the proxy adds `ReturnConsumedCapacity: TOTAL` to each data request that does not ask for it, and sums what
 * DynamoDB Local answers: it applies DynamoDB's rules to single-item and batch operations (1 write unit per KB of the
 * larger of the item before and after, 1 strongly consistent read unit per 4 KB, per item in a batch, summed over a
 * Query's items). Not to transactions (it charges 2 units for 3 small items): TransactWriteItems is counted from its
 * request, 2 units per KB of each item (a Put's item; an Update's values, at least 1 KB: it updates the small lease item;
 * a Delete or condition check, 1). The added request and answer bytes are not counted.
 */
import { createServer, request as forward, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface DynamoDbCounts {
  requests: number;
  byOperation: Record<string, number>;
  /** Request bodies as the client sent them. */
  requestBytes: number;
  /** Answer bodies, less the ConsumedCapacity the proxy asked for. */
  responseBytes: number;
  /** Read request units (on-demand), as DynamoDB Local accounted them. */
  readUnits: number;
  /** Write request units (on-demand; a transactional write counts double), as DynamoDB Local accounted them or estimated. */
  writeUnits: number;
  /** Requests whose units were estimated from their bytes (failed writes: no ConsumedCapacity in an error answer). */
  estimatedUnits: number;
  /** Wall time with at least one request in flight (DynamoDB Local's speed, not DynamoDB's). */
  inFlightMs: number;
  /** In order: each operation, with the sort keys it named for BatchGetItem (item names, no values). */
  log: string[];
}

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

const empty = (): DynamoDbCounts => ({ requests: 0, byOperation: {}, requestBytes: 0, responseBytes: 0, readUnits: 0, writeUnits: 0, estimatedUnits: 0, inFlightMs: 0, log: [] });

type SortKey = { sk?: { S?: string } };

/**
 * The sort keys a BatchGetItem asks for (e.g. `k#session#491701234567.0`: what a pin reads beyond its load) and a
 * TransactWriteItems writes (`Put h#creds`: what a commit rewrites). Item names, no values.
 */
function readKeys(operation: string, body: Buffer): string {
  if (operation !== 'BatchGetItem' && operation !== 'TransactWriteItems') return operation;
  try {
    const input = JSON.parse(body.toString('utf8')) as {
      RequestItems?: Record<string, { Keys: SortKey[] }>;
      TransactItems?: Array<{ Put?: { Item: SortKey }; Update?: { Key: SortKey }; Delete?: { Key: SortKey }; ConditionCheck?: { Key: SortKey } }>;
    };
    const keys =
      operation === 'BatchGetItem'
        ? Object.values(input.RequestItems ?? {}).flatMap(({ Keys }) => Keys.map((key) => key.sk?.S ?? '?'))
        : (input.TransactItems ?? []).map((item) => {
            const [kind, value] = Object.entries(item)[0] ?? ['?', {}];
            const named = value as { Item?: SortKey; Key?: SortKey };
            return `${kind} ${(named.Item ?? named.Key)?.sk?.S ?? '?'}`;
          });
    return `${operation}(${keys.length}: ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', …' : ''})`;
  } catch {
    return operation;
  }
}

/** The request to forward: with `ReturnConsumedCapacity: TOTAL` for a data operation that did not ask for capacity. */
export function withCapacity(operation: string, body: Buffer): { body: Buffer; injected: boolean } {
  if (!READS.has(operation) && !WRITES.has(operation)) return { body, injected: false };
  try {
    const input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (input.ReturnConsumedCapacity !== undefined && input.ReturnConsumedCapacity !== 'NONE') return { body, injected: false };
    return { body: Buffer.from(JSON.stringify({ ...input, ReturnConsumedCapacity: 'TOTAL' })), injected: true };
  } catch {
    return { body, injected: false };
  }
}

type Capacity = { CapacityUnits?: number };
type Value = { S?: string; N?: string; B?: string; BOOL?: boolean; NULL?: boolean; SS?: string[]; NS?: string[]; BS?: string[]; L?: Value[]; M?: Record<string, Value> };

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');
/** A number's stored size: about one byte per two significant digits, plus one. */
const numberBytes = (n: string) => Math.ceil(n.replace(/^-|[.]|e.*$/gi, '').replace(/^0+|0+$/g, '').length / 2) + 1;

/** DynamoDB's size of an attribute value (docs: "Item sizes and formats"). */
function valueBytes(value: Value): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return Buffer.from(value.B, 'base64').length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, item) => sum + utf8(item), 0);
  if (value.NS) return value.NS.reduce((sum, item) => sum + numberBytes(item), 0);
  if (value.BS) return value.BS.reduce((sum, item) => sum + Buffer.from(item, 'base64').length, 0);
  if (value.L) return 3 + value.L.reduce((sum, item) => sum + 1 + valueBytes(item), 0);
  if (value.M) return 3 + Object.entries(value.M).reduce((sum, [name, item]) => sum + 1 + utf8(name) + valueBytes(item), 0);
  return 0;
}

/** DynamoDB's size of an item: attribute names and values. */
export function itemBytes(item: Record<string, Value>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueBytes(value), 0);
}

type TransactItem = { Put?: { Item: Record<string, Value> }; Update?: { Key: Record<string, Value>; ExpressionAttributeValues?: Record<string, Value> }; Delete?: unknown; ConditionCheck?: unknown };

/** Write units of a TransactWriteItems from its request: 2 per KB of each item, rounded up per item. */
export function transactionWriteUnits(request: { TransactItems?: readonly object[] }): number {
  const kbOf = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
  return ((request.TransactItems ?? []) as TransactItem[]).reduce((sum, item) => {
    if (item.Put) return sum + 2 * kbOf(itemBytes(item.Put.Item));
    if (item.Update) return sum + 2 * kbOf(itemBytes(item.Update.Key) + itemBytes(item.Update.ExpressionAttributeValues ?? {}));
    return sum + 2;
  }, 0);
}

/**
 * Units of one answered request and the answer's size without the capacity the proxy asked for. A failed write (a
 * condition that did not hold, a cancelled transaction) has no ConsumedCapacity in its answer, yet DynamoDB charges it:
 * estimated as 1 unit per KB of the request (at least 1), a transaction as above.
 */
export function unitsOf(operation: string, request: Buffer, status: number, answer: Buffer, injected: boolean): { read: number; write: number; estimated: boolean; answerBytes: number } {
  const read = READS.has(operation);
  const write = WRITES.has(operation);
  if (!read && !write) return { read: 0, write: 0, estimated: false, answerBytes: answer.length };
  let parsed: { ConsumedCapacity?: Capacity | Capacity[] } | undefined;
  try {
    parsed = JSON.parse(answer.toString('utf8')) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  const consumed = parsed?.ConsumedCapacity;
  if (status === 200 && consumed !== undefined) {
    let units = (Array.isArray(consumed) ? consumed : [consumed]).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
    if (operation === 'TransactWriteItems') {
      try {
        units = transactionWriteUnits(JSON.parse(request.toString('utf8')) as { TransactItems?: object[] });
      } catch {
        // keep DynamoDB Local's figure
      }
    }
    let answerBytes = answer.length;
    if (injected) {
      const { ConsumedCapacity: _, ...rest } = parsed!;
      answerBytes -= Buffer.byteLength(JSON.stringify(parsed)) - Buffer.byteLength(JSON.stringify(rest));
    }
    return { read: read ? units : 0, write: write ? units : 0, estimated: false, answerBytes };
  }
  if (!write || status === 200) return { read: 0, write: 0, estimated: false, answerBytes: answer.length };
  let units = Math.max(1, Math.ceil(request.length / 1024));
  if (operation === 'TransactWriteItems') {
    try {
      units = transactionWriteUnits(JSON.parse(request.toString('utf8')) as { TransactItems?: object[] });
    } catch {
      units *= 2;
    }
  }
  return { read: 0, write: units, estimated: true, answerBytes: answer.length };
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
  let counts = empty();
  let inFlight = 0;
  let busySince = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(incoming.headers['x-amz-target'] ?? 'unknown').split('.').pop()!;
      const current = counts;
      current.requests++;
      current.byOperation[operation] = (current.byOperation[operation] ?? 0) + 1;
      current.requestBytes += body.length;
      current.log.push(readKeys(operation, body));
      const sent = withCapacity(operation, body);
      if (inFlight++ === 0) busySince = performance.now();
      const upstream = forward(
        {
          hostname: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, 'content-length': String(sent.body.length) },
        },
        (response) => {
          const answer: Buffer[] = [];
          response.on('data', (chunk: Buffer) => answer.push(chunk));
          response.on('end', () => {
            const whole = Buffer.concat(answer);
            if (--inFlight === 0) current.inFlightMs += performance.now() - busySince;
            const units = unitsOf(operation, body, response.statusCode ?? 0, whole, sent.injected);
            current.responseBytes += units.answerBytes;
            current.readUnits += units.read;
            current.writeUnits += units.write;
            if (units.estimated) current.estimatedUnits++;
            outgoing.writeHead(response.statusCode ?? 502, response.headers);
            outgoing.end(whole);
          });
        },
      );
      upstream.on('error', () => {
        if (--inFlight === 0) current.inFlightMs += performance.now() - busySince;
        outgoing.writeHead(502).end();
      });
      upstream.end(sent.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => structuredClone(counts),
    reset: () => void (counts = empty()),
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
