/**
 * The part of API Gateway (HTTP API, payload 2.0) the local server needs: route matching, the
 * APIGatewayProxyEventV2 the handler receives, and the response written back. No pin logic here.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export const PIN_ROUTE = 'POST /chat/{chat_jid}/pin';
const PIN_PATH = /^\/chat\/([^/]+)\/pin$/;
/** API Gateway's integration timeout. */
const TIMEOUT_MS = 29_000;
const TEXT_TYPES = /json|text|xml|x-www-form-urlencoded|javascript/i;

function decoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A Lambda context with `remainingMs` left. */
export function localContext(awsRequestId: string = randomUUID(), remainingMs = TIMEOUT_MS): Context {
  const end = Date.now() + remainingMs;
  return {
    awsRequestId,
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'pin-chat-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:pin-chat-local',
    memoryLimitInMB: '1024',
    logGroupName: '/aws/lambda/pin-chat-local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => end - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The event API Gateway would hand to the function for this request (undefined when no route matches). */
export function toApiGatewayEvent(request: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 | undefined {
  const url = new URL(request.url ?? '/', 'http://local');
  const rawPath = url.pathname;
  const match = request.method === 'POST' ? PIN_PATH.exec(rawPath) : null;
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== 'cookie') headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const text = TEXT_TYPES.test(headers['content-type'] ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: PIN_ROUTE,
    rawPath,
    rawQueryString: url.search.slice(1),
    ...(request.headers.cookie && { cookies: request.headers.cookie.split(/;\s*/) }),
    headers,
    ...(url.search && { queryStringParameters: query }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0]!,
      http: {
        method: request.method ?? 'POST',
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: PIN_ROUTE,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    pathParameters: { chat_jid: decoded(match[1]!) },
    isBase64Encoded: body.length > 0 && !text,
    ...(body.length > 0 && { body: text ? body.toString('utf8') : body.toString('base64') }),
  };
}

/** Writes a payload-2.0 result: a structured result as is, anything else as a 200 JSON body (API Gateway's rule). */
export function writeResult(response: ServerResponse, result: unknown): void {
  const structured = typeof result === 'object' && result !== null && 'statusCode' in result;
  const { statusCode = 200, headers = {}, body = '', isBase64Encoded = false, cookies = [] } = structured
    ? (result as APIGatewayProxyStructuredResultV2)
    : { headers: { 'content-type': 'application/json' }, body: typeof result === 'string' ? result : JSON.stringify(result) };
  response.writeHead(statusCode, { ...headers, ...(cookies.length && { 'set-cookie': cookies }) });
  response.end(isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

export function writeJson(response: ServerResponse, statusCode: number, body: unknown): void {
  response.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Serves the handler like one warm Lambda instance: one invocation at a time (later requests wait
 * their turn), 404 `{"message":"Not Found"}` for anything but the pin route, 500 when the handler throws.
 */
export function apiGatewayRoute(handler: LambdaHandler) {
  let queue: Promise<unknown> = Promise.resolve();
  return async (request: IncomingMessage, response: ServerResponse, body: Buffer): Promise<void> => {
    const event = toApiGatewayEvent(request, body);
    if (!event) return writeJson(response, 404, { message: 'Not Found' });
    const run = queue.then(() => handler(event, localContext(event.requestContext.requestId)));
    queue = run.catch(() => undefined);
    try {
      writeResult(response, await run);
    } catch {
      writeJson(response, 500, { message: 'Internal Server Error' });
    }
  };
}
