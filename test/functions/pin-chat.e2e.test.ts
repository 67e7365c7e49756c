import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { lambdaContext, loadEvent } from '../support/events.js';
import { expectLogs } from '../support/expected-logs.js';
import { coldHandler, postPin, type Handler } from '../support/handler-calls.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';

// End to end: the real middy handler, DynamoDB Local and the WhatsApp simulator. Only Secrets Manager is a loopback stand-in
// (its HTTP edge: each cold start builds its own SDK client, which an in-process SDK mock would not reach).
const CHAT = '6289685028129@s.whatsapp.net';
let world: HandlerWorld;

async function post(handler: Handler, name: string) {
  const response = (await handler(loadEvent('api-gateway-v2', name), lambdaContext(29_000))) as APIGatewayProxyResult;
  return { status: response.statusCode, body: JSON.parse(response.body) as { code: string; message: string; results: Record<string, unknown> } };
}

beforeAll(async () => {
  // Every device of this file is linked to one simulated account, whose pinned chats add up across the
  // rows: no pin cap here (test/functions/pin-cap.e2e.test.ts has the cap, on accounts of its own).
  world = await startHandlerWorld({ DEFAULT_DEVICE_ID: 'default', MAX_PINNED_CHATS: '0' });
  world.sim.phone(world.account.phoneNumber).pinLimit = undefined; // nor on its phone, which would unpin the oldest
  await world.link('default');
});
afterAll(async () => {
  await world.stop();
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
    expect(snapshot.keys['app-state-meta']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
    expect(world.sim.violations).toEqual([]);
  });

  it('answers 404 for a number not on WhatsApp and 500 "not logged in" for an unknown device', async () => {
    const handler = await coldHandler();
    const notOnWhatsApp = await post(handler, 'pin-group');
    const unknownDevice = await post(handler, 'pin-with-device-header');
    expect(notOnWhatsApp).toEqual({ status: 404, body: { code: '404', message: 'Chat not found', results: {} } });
    expect(unknownDevice).toEqual({ status: 500, body: { code: 'INTERNAL_SERVER_ERROR', message: 'you are not logged in', results: {} } });
  });

  it('the same session pins 8 times in a row across cold starts (the phone changing app state between two), and survives', async () => {
    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const handler = await coldHandler();
      statuses.push((await post(handler, i % 2 === 0 ? 'pin' : 'unpin')).status);
      if (i === 3) await world.sim.phone(world.account.phoneNumber).setArchived('15550004321@s.whatsapp.net', true);
    }
    // Assess
    expect(statuses).toEqual(Array(8).fill(200));
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: false });
    expect(world.sim.violations).toEqual([]);
    const snapshot = await world.store.load('default');
    expect(snapshot.state).toBe('linked');
    expect(snapshot.keys['app-state-meta']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
  }, 120_000);
});

describe('the WhatsApp rows of the contract, end to end', () => {
  let handler: Handler;
  const phone = () => world.sim.phone(world.account.phoneNumber);
  const serverVersion = () => world.sim.appStateVersion(world.account.phoneNumber, 'regular_low');

  const postAs = (deviceId: string, pinned: boolean, chatJid = CHAT, remainingMs = 29_000) => postPin(handler, { deviceId, chatJid, pinned, remainingMs });

  beforeAll(async () => {
    handler = await coldHandler();
  });

  it('the phone changed app state since our last call → 200, the LT hash chain verified across both devices', async () => {
    // Prepare
    await world.link('phone-changed');
    expect((await postAs('phone-changed', true)).status).toBe(200);
    await phone().setArchived('15550007001@s.whatsapp.net', true);
    await phone().setPinned('15550007003@s.whatsapp.net', true);
    // Act
    const unpinned = await postAs('phone-changed', false);
    // Assess
    expect(unpinned.status).toBe(200);
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: false });
    expect((await world.store.load('phone-changed')).keys['app-state-meta']?.regular_low?.version).toBe(serverVersion());
    expect(world.sim.violations).toEqual([]);
  });

  it('the phone changes app state between our sync and our patch → 409, catch up, retry → 200', async () => {
    // Prepare
    await world.link('race');
    expect((await postAs('race', true)).status).toBe(200);
    world.sim.beforeNextPatch(world.account.phoneNumber, () => phone().setPinned('15550007002@s.whatsapp.net', true));
    // Act
    const unpinned = await postAs('race', false);
    // Assess
    expect(unpinned.status).toBe(200);
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: false });
    expect(world.sim.chatState(world.account.phoneNumber, '15550007002@s.whatsapp.net')).toMatchObject({ pinned: true });
    expect((await world.store.load('race')).keys['app-state-meta']?.regular_low?.version).toBe(serverVersion());
    expect(world.sim.violations).toEqual([]);
  });

  it('the phone wins every race (a 409 on each of the 4 attempts) → 502 BAD_GATEWAY', async () => {
    // Prepare: in sync first, so that every upload is built on the current version and meets the race
    await world.link('conflicts');
    expect((await postAs('conflicts', false)).status).toBe(200);
    let races = 0;
    const race = async () => {
      races++;
      await phone().setArchived(`155500070${String(races).padStart(2, '0')}@s.whatsapp.net`, true);
      world.sim.beforeNextPatch(world.account.phoneNumber, race);
    };
    world.sim.beforeNextPatch(world.account.phoneNumber, race);
    // Act
    const answer = await postAs('conflicts', true);
    world.sim.beforeNextPatch(world.account.phoneNumber, () => undefined);
    // Assess
    expect(answer).toMatchObject({ status: 502, body: { code: 'BAD_GATEWAY', message: 'WhatsApp rejected the change' } });
    expect(races).toBe(4);
  });

  it('WhatsApp never answers the patch → 504 GATEWAY_TIMEOUT before the deadline, the unanswered patch not persisted', async () => {
    // Prepare
    const linked = await world.link('silent');
    expect((await postAs('silent', false)).status).toBe(200);
    const before = (await world.store.load('silent')).keys['app-state-meta']?.regular_low?.version;
    world.sim.setFaults([{ kind: 'ignore', match: { xmlns: 'w:sync:app:state' } }], { deviceJid: linked.deviceJid });
    const started = Date.now();
    // Act
    const answer = await postAs('silent', true, CHAT, 4_500);
    // Assess
    expect(answer).toMatchObject({ status: 504, body: { code: 'GATEWAY_TIMEOUT', message: 'WhatsApp did not answer in time' } });
    expect(Date.now() - started).toBeLessThan(4_500);
    expect((await world.store.load('silent')).keys['app-state-meta']?.regular_low?.version).toBe(before);
    expect(serverVersion()).toBe(before);
    world.sim.setFaults([], { deviceJid: linked.deviceJid });
  });

  it('a device the phone logged out → 500 "you are not logged in", logged at ERROR (a person must link it again), and the session is marked logged out', async () => {
    const linked = await world.link('removed');
    world.sim.unlinkDevice(linked.deviceJid);
    const { result, logs } = await expectLogs(() => postAs('removed', true));
    expect(result).toMatchObject({ status: 500, body: { code: 'INTERNAL_SERVER_ERROR', message: 'you are not logged in' } });
    expect(logs.filter((line) => line.level === 'ERROR')).toEqual([expect.objectContaining({ message: 'request failed', error: 'NotLoggedInError: device removed is not logged in (logged-out)' })]);
    expect((await world.store.load('removed')).state).toBe('logged-out');
  });

  it('a group the account is not in → 404; one it is in → 200', async () => {
    await world.link('groups');
    const theirs = world.sim.createGroup({ subject: 'not ours', participants: ['6289685028129'] });
    const ours = world.sim.createGroup({ subject: 'ours', participants: [world.account.phoneNumber, '6289685028129'] });
    expect(await postAs('groups', true, theirs)).toMatchObject({ status: 404, body: { code: '404', message: 'Chat not found' } });
    expect((await postAs('groups', true, ours)).status).toBe(200);
    expect(world.sim.chatState(world.account.phoneNumber, ours)).toMatchObject({ pinned: true });
  });

  it('another call holds the device past this one\'s budget → it waits its turn, then 409 with Retry-After, nothing sent', async () => {
    // Prepare: a holder that keeps the device 30 s; this call has 7 s (it withdraws 4 s before its deadline)
    const linked = await world.link('busy');
    await world.store.acquireLease('busy', 'another-invocation', 30);
    const started = Date.now();
    // Act
    const answer = await postAs('busy', true, CHAT, 7_000);
    // Assess
    expect(answer).toMatchObject({ status: 409, body: { code: '409', message: 'device is busy, retry later' } });
    expect(Number(answer.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(world.sim.connections(linked.deviceJid).total).toBe(0);
  });
});

describe('every entry point takes the device\'s turn the same way', () => {
  it('an HTTP call, a direct invocation and an SQS record on one device at once: each served, over one login', async () => {
    // Prepare: three instances; three chats on WhatsApp
    const linked = await world.link('entry-points');
    const chats = ['15550800001', '15550800002', '15550800003'].map((n) => (world.sim.registerNumber(n), `${n}@s.whatsapp.net`));
    const [http, direct, sqs] = [await coldHandler(), await coldHandler(), await coldHandler()];
    const directEvent = { ...loadEvent('direct', 'pin'), chat_jid: chats[1], device_id: 'entry-points' };
    const sqsEvent = loadEvent('sqs', 'pin');
    sqsEvent.Records[0]!.body = JSON.stringify({ chat_jid: chats[2], pinned: true, device_id: 'entry-points' });
    sqsEvent.Records[0]!.attributes.MessageGroupId = 'entry-points';
    // Act
    const [httpAnswer, directAnswer, sqsAnswer] = await Promise.all([
      postPin(http, { deviceId: 'entry-points', chatJid: chats[0]!, pinned: true }),
      direct(directEvent, lambdaContext(29_000)),
      sqs(sqsEvent, lambdaContext(29_000)),
    ]);
    // Assess
    expect(httpAnswer.status).toBe(200);
    expect(directAnswer).toMatchObject({ code: 'SUCCESS', results: { chat_jid: chats[1], pinned: true } });
    expect(sqsAnswer).toEqual({ batchItemFailures: [] });
    for (const chat of chats) expect(world.sim.chatState(world.account.phoneNumber, chat)?.pinned).toBe(true);
    expect(world.sim.connections(linked.deviceJid).total).toBe(1);
  });
});
