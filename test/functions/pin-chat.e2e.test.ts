import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { startLocalSecretsManager, type LocalSecretsManager } from '../../lib/local/local-secrets-manager.js';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { lambdaContext, loadEvent, SAMPLE_BASIC_AUTH } from '../support/events.js';
import { startWorld, type World } from '../support/simulated-world.js';

// End to end: the real middy handler, DynamoDB Local and the WhatsApp simulator. Only Secrets Manager is a loopback stand-in
// (its HTTP edge: each cold start builds its own SDK client, which an in-process SDK mock would not reach).
type Handler = (event: unknown, context: unknown) => Promise<unknown>;
const CHAT = '6289685028129@s.whatsapp.net';
let world: World;
let secrets: LocalSecretsManager;

/** A fresh module graph: what a cold start gets (new clients, new caches, new Baileys). */
async function coldHandler(): Promise<Handler> {
  let handler: Handler | undefined;
  await jest.isolateModulesAsync(async () => {
    ({ handler } = (await import('../../functions/pin-chat.js')) as unknown as { handler: Handler });
  });
  return handler!;
}

async function post(handler: Handler, name: string) {
  const response = (await handler(loadEvent('api-gateway-v2', name), lambdaContext(29_000))) as APIGatewayProxyResult;
  return { status: response.statusCode, body: JSON.parse(response.body) as { code: string; message: string; results: Record<string, unknown> } };
}

beforeAll(async () => {
  world = await startWorld();
  world.sim.registerNumber('6289685028129');
  secrets = await startLocalSecretsManager();
  secrets.put('pin-api-credentials', JSON.stringify({ basic_auth: SAMPLE_BASIC_AUTH }));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    SESSION_TABLE: world.table,
    API_CREDENTIALS_SECRET_ID: 'pin-api-credentials',
    DEFAULT_DEVICE_ID: 'default',
    WHATSAPP_WS_URL: world.sim.url,
    CHECK_CHAT_EXISTS: 'true',
  });
  await world.link('default');
});
afterAll(async () => {
  await world.stop();
  await secrets.stop();
});

describe('POST /chat/{chat_jid}/pin end to end (handler + DynamoDB Local + simulator)', () => {
  it('pins and unpins: 200 with the seed body, the simulated phone shows it, the store follows the server version', async () => {
    // Prepare
    const handler = await coldHandler();
    // Act
    const pinned = await post(handler, 'pin');
    const stateAfterPin = world.sim.chatState(world.account.phoneNumber, CHAT);
    const unpinned = await post(handler, 'unpin');
    // Assess
    expect(pinned).toEqual({
      status: 200,
      body: { code: 'SUCCESS', message: 'Chat pinned successfully', results: { status: 'success', message: 'Chat pinned successfully', chat_jid: CHAT, pinned: true } },
    });
    expect(stateAfterPin).toMatchObject({ pinned: true });
    expect(unpinned.status).toBe(200);
    expect(unpinned.body.message).toBe('Chat unpinned successfully');
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: false });
    const snapshot = await world.store.load('default');
    expect(snapshot.keys['app-state-sync-version']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
    expect(world.sim.violations).toEqual([]);
  });

  it('answers 404 for a number not on WhatsApp and 500 "not logged in" for an unknown device', async () => {
    const handler = await coldHandler();
    const notOnWhatsApp = await post(handler, 'pin-group');
    const unknownDevice = await post(handler, 'pin-with-device-header');
    expect(notOnWhatsApp).toEqual({ status: 404, body: { code: '404', message: 'Chat not found', results: {} } });
    expect(unknownDevice).toEqual({ status: 500, body: { code: 'INTERNAL_SERVER_ERROR', message: 'you are not logged in', results: {} } });
  });

  it('the same session pins 20 times in a row across cold starts, and survives', async () => {
    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const handler = await coldHandler();
      statuses.push((await post(handler, i % 2 === 0 ? 'pin' : 'unpin')).status);
      if (i === 9) await world.sim.phone(world.account.phoneNumber).setArchived('15550004321@s.whatsapp.net', true);
    }
    // Assess
    expect(statuses).toEqual(Array(20).fill(200));
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: false });
    expect(world.sim.violations).toEqual([]);
    const snapshot = await world.store.load('default');
    expect(snapshot.state).toBe('linked');
    expect(snapshot.keys['app-state-sync-version']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
  }, 120_000);
});
