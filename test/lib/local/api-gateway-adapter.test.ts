import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { apiGatewayRoute, readBody } from '../../../lib/local/api-gateway-adapter.js';

// The adapter over a real loopback server; the function behind it records what API Gateway would have handed over.
const sample = JSON.parse(readFileSync(new URL('../../../events/api-gateway-v2/pin.json', import.meta.url), 'utf8')) as APIGatewayProxyEventV2;
const received: APIGatewayProxyEventV2[] = [];
let running = 0;
let maxRunning = 0;
let server: Server;
let url: string;

beforeAll(async () => {
  const route = apiGatewayRoute(async (event) => {
    const request = event as APIGatewayProxyEventV2;
    received.push(request);
    maxRunning = Math.max(maxRunning, ++running);
    await new Promise((resolve) => setTimeout(resolve, 20));
    running--;
    if (request.headers['x-fail']) throw new Error('function failed');
    if (request.headers['x-plain']) return { ok: true };
    return { statusCode: 201, headers: { 'x-echo': request.pathParameters?.chat_jid ?? '' }, body: request.body ?? '' };
  });
  server = createServer((request, response) => void readBody(request).then((body) => route(request, response, body)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('apiGatewayRoute', () => {
  it('hands the function a payload-2.0 event shaped like the sample events, and writes its result back', async () => {
    // Act
    const response = await fetch(`${url}/chat/120363025246125486%40g.us/pin?device_id=a&device_id=b`, {
      method: 'POST',
      headers: { authorization: 'Basic dTpw', 'content-type': 'application/json' },
      body: '{"pinned":true}',
    });
    // Assess
    const event = received.at(-1)!;
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('120363025246125486@g.us');
    expect(await response.text()).toBe('{"pinned":true}');
    expect(Object.keys(event).sort()).toEqual([...Object.keys(sample), 'queryStringParameters'].sort());
    expect(Object.keys(event.requestContext).sort()).toEqual(Object.keys(sample.requestContext).sort());
    expect(Object.keys(event.requestContext.http).sort()).toEqual(Object.keys(sample.requestContext.http).sort());
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /chat/{chat_jid}/pin',
      rawPath: '/chat/120363025246125486%40g.us/pin',
      rawQueryString: 'device_id=a&device_id=b',
      queryStringParameters: { device_id: 'a,b' },
      pathParameters: { chat_jid: '120363025246125486@g.us' },
      headers: { authorization: 'Basic dTpw', 'content-type': 'application/json' },
      isBase64Encoded: false,
      body: '{"pinned":true}',
      requestContext: { http: { method: 'POST', path: '/chat/120363025246125486%40g.us/pin' }, stage: '$default' },
    });
  });

  it('base64-encodes a non-text body, answers a plain result as 200 JSON, a throw as 500, other routes 404', async () => {
    // Act
    await fetch(`${url}/chat/1@s.whatsapp.net/pin`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0xff, 0x00]) });
    const binary = received.at(-1)!;
    const plain = await fetch(`${url}/chat/1@s.whatsapp.net/pin`, { method: 'POST', headers: { 'x-plain': '1' } });
    const failed = await fetch(`${url}/chat/1@s.whatsapp.net/pin`, { method: 'POST', headers: { 'x-fail': '1' } });
    const count = received.length;
    const wrongMethod = await fetch(`${url}/chat/1@s.whatsapp.net/pin`);
    const wrongPath = await fetch(`${url}/chat/1@s.whatsapp.net/archive`, { method: 'POST' });
    // Assess
    expect(binary).toMatchObject({ isBase64Encoded: true, body: '/wA=' });
    expect([plain.status, plain.headers.get('content-type'), await plain.json()]).toEqual([200, 'application/json', { ok: true }]);
    expect([failed.status, await failed.json()]).toEqual([500, { message: 'Internal Server Error' }]);
    expect([wrongMethod.status, wrongPath.status, await wrongPath.json()]).toEqual([404, 404, { message: 'Not Found' }]);
    expect(received.length).toBe(count);
  });

  it('runs one invocation at a time, like one warm Lambda instance', async () => {
    // Prepare
    maxRunning = 0;
    // Act
    const statuses = await Promise.all(Array.from({ length: 4 }, () => fetch(`${url}/chat/1@s.whatsapp.net/pin`, { method: 'POST' }).then((r) => r.status)));
    // Assess
    expect(statuses).toEqual([201, 201, 201, 201]);
    expect(maxRunning).toBe(1);
  });
});
