import { jest } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { documented } from './documented.js';
import { lambdaContext, loadEvent } from './events.js';

export type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/**
 * A fresh module graph of functions/pin-chat.ts: what a cold start gets (config read again, new clients,
 * caches, Baileys; its Baileys trusts the process's root, the simulator's, as every graph does).
 */
export async function isolatedHandler(): Promise<Handler> {
  let handler: Handler | undefined;
  await jest.isolateModulesAsync(async () => {
    ({ handler } = (await import('../../functions/pin-chat.js')) as unknown as { handler: Handler });
    // Its WhatsApp side is imported apart (lib/whatsapp/create-whatsapp-port.ts): into this graph too, not the test's.
    await (await import('../../lib/whatsapp/create-whatsapp-port.js')).whatsappSide();
  });
  return handler!;
}

/** A cold handler (isolatedHandler) whose every answer is checked against openapi.yaml. */
export async function coldHandler(): Promise<Handler> {
  return documented(await isolatedHandler());
}

export interface PinAnswer {
  status: number;
  body: { code: string; message: string; results: Record<string, unknown> };
  headers?: APIGatewayProxyResult['headers'];
}

/** POST /chat/{chatJid}/pin as `deviceId` (X-Device-Id) through API Gateway v2, with `remainingMs` left in the Lambda. */
export async function postPin(handler: Handler, request: { deviceId: string; chatJid: string; pinned: boolean; remainingMs?: number }): Promise<PinAnswer> {
  const event = loadEvent('api-gateway-v2', 'pin');
  event.headers['x-device-id'] = request.deviceId;
  event.pathParameters = { chat_jid: request.chatJid };
  event.body = JSON.stringify({ pinned: request.pinned });
  const response = (await handler(event, lambdaContext(request.remainingMs ?? 29_000))) as APIGatewayProxyResult;
  return { status: response.statusCode, body: JSON.parse(response.body) as PinAnswer['body'], headers: response.headers };
}
