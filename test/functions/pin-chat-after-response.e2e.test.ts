import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { startLocalExtensionsApi, type LocalExtensionsApi } from '../../lib/local/local-extensions-api.js';
import { lambdaContext, loadEvent } from '../support/events.js';
import { coldHandler, type Handler } from '../support/handler-calls.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';

// Lambda's lifecycle end to end: the handler registers as an internal extension with a loopback stand-in of the
// runtime API; DynamoDB Local and the simulator as everywhere.
const CHAT = '6289685028129@s.whatsapp.net';
let world: HandlerWorld;
let api: LocalExtensionsApi;
let handler: Handler;
let deviceJid: string;

beforeAll(async () => {
  api = await startLocalExtensionsApi();
  world = await startHandlerWorld({ DEFAULT_DEVICE_ID: 'after-response', MAX_PINNED_CHATS: '0', AWS_LAMBDA_RUNTIME_API: api.address });
  world.sim.phone(world.account.phoneNumber).pinLimit = undefined;
  ({ deviceJid } = await world.link('after-response'));
  handler = await coldHandler();
});
afterAll(async () => {
  delete process.env.AWS_LAMBDA_RUNTIME_API;
  await world.stop();
  await api.stop();
});

/** One invocation as Lambda runs it: the extension gets INVOKE with the handler; resolves the answer and when Lambda could freeze. */
async function invoke(name: 'pin' | 'unpin') {
  const requestId = randomUUID();
  const over = api.invoke(requestId, Date.now() + 29_000);
  const response = (await handler(loadEvent('api-gateway-v2', name), lambdaContext(29_000, requestId))) as APIGatewayProxyResult;
  await over;
  const stored = (await world.store.load('after-response')).keys['app-state-meta']?.regular_low?.version;
  return { status: response.statusCode, stored, server: world.sim.appStateVersion(world.account.phoneNumber, 'regular_low') };
}

describe('in Lambda a pin is answered before its commit, which ends the invocation', () => {
  it('registers at the cold start; each invocation ends with the pin committed; the next one reuses the connection', async () => {
    // Act
    const pinned = await invoke('pin');
    const stateAfterPin = world.sim.chatState(world.account.phoneNumber, CHAT);
    const unpinned = await invoke('unpin');
    // Assess
    expect(api.registrations()).toEqual([{ name: 'whatsapp-pin-after-response', events: ['INVOKE'] }]);
    expect(pinned).toEqual({ status: 200, stored: pinned.server, server: expect.any(Number) });
    expect(stateAfterPin).toMatchObject({ pinned: true });
    expect(unpinned).toEqual({ status: 200, stored: pinned.server + 1, server: pinned.server + 1 });
    expect(world.sim.connections(deviceJid)).toMatchObject({ total: 1 });
    expect(world.sim.violations).toEqual([]);
  });
});
