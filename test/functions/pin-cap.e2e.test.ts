import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { KeyChanges } from '../../lib/session/session-store.js';
import { connectClient, endClient, memoryAuth } from '../lib/simulator/baileys-client.js';
import { coldHandler, postPin, type Handler } from '../support/handler-calls.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';

// The account's pinned chats as data, end to end (handler + DynamoDB Local + simulator), with the default
// cap of 3 (MAX_PINNED_CHATS unset). Every test has an account and a device of its own.
let world: HandlerWorld;
let handler: Handler;
let accounts = 0;

beforeAll(async () => {
  world = await startHandlerWorld();
  handler = await coldHandler();
});
afterAll(async () => {
  await world.stop();
});

/** A new account whose device is linked and has pinned nothing yet, with `chats` on WhatsApp. */
async function account(chats: number) {
  const { phoneNumber } = world.sim.createAccount();
  const deviceId = `cap-${++accounts}`;
  await world.link(deviceId, phoneNumber);
  const jids = Array.from({ length: chats }, (_, i) => `1555020${String(accounts).padStart(2, '0')}${i}@s.whatsapp.net`);
  for (const jid of jids) world.sim.registerNumber(jid.split('@')[0]!);
  const phone = world.sim.phone(phoneNumber);
  return {
    phoneNumber,
    jids,
    phone,
    pin: (chatJid: string, pinned = true) => postPin(handler, { deviceId, chatJid, pinned }),
    version: () => world.sim.appStateVersion(phoneNumber, 'regular_low'),
    pinned: (chatJid: string) => world.sim.chatState(phoneNumber, chatJid)?.pinned ?? false,
  };
}

describe('the pin cap (WhatsApp shows 3 pinned chats)', () => {
  it('3 chats pinned by the phone → a 4th pin answers 409 and sends nothing; unpin one → the 4th lands', async () => {
    // Prepare
    const { jids, phone, pin, version, pinned } = await account(4);
    for (const jid of jids.slice(0, 3)) await phone.setPinned(jid, true);
    const before = version();
    // Act
    const refused = await pin(jids[3]!);
    const afterRefusal = version();
    const unpinned = await pin(jids[0]!, false);
    const fourth = await pin(jids[3]!);
    // Assess
    expect(refused).toMatchObject({ status: 409, body: { code: '409', message: 'You can only pin up to 3 chats', results: {} } });
    expect(refused.headers).not.toHaveProperty('Retry-After');
    expect(afterRefusal).toBe(before);
    expect(unpinned.status).toBe(200);
    expect(fourth.status).toBe(200);
    expect(jids.map(pinned)).toEqual([false, true, true, true]);
    expect(world.sim.violations).toEqual([]);
  });

  it('the phone unpins one after our last call → the next pin lands (a refusal rests on the server\'s current version)', async () => {
    // Prepare: we saw 3 pinned (our refused pin stored that), then the phone unpins one
    const { jids, phone, pin, pinned } = await account(4);
    for (const jid of jids.slice(0, 3)) await phone.setPinned(jid, true);
    expect((await pin(jids[3]!)).status).toBe(409);
    await phone.setPinned(jids[1]!, false);
    // Act
    const answer = await pin(jids[3]!);
    // Assess
    expect(answer.status).toBe(200);
    expect(jids.map(pinned)).toEqual([true, false, true, true]);
  });

  it('the phone pins a third chat while our pin (of a third) is on its way → 409 conflict, catch up, then the cap refuses ours', async () => {
    // Prepare
    const { phoneNumber, jids, phone, pin, pinned } = await account(4);
    for (const jid of jids.slice(0, 2)) await phone.setPinned(jid, true);
    expect((await pin(jids[0]!)).status).toBe(200); // in sync, and the projection has the two
    world.sim.beforeNextPatch(phoneNumber, () => phone.setPinned(jids[2]!, true));
    // Act
    const answer = await pin(jids[3]!);
    // Assess
    expect(answer).toMatchObject({ status: 409, body: { message: 'You can only pin up to 3 chats' } });
    expect(jids.map(pinned)).toEqual([true, true, true, false]);
    expect(world.sim.violations).toEqual([]);
  });
});

describe('idempotent pins', () => {
  it('a repeated pin and an unpin of an unpinned chat → 200 with the usual body, and no patch', async () => {
    // Prepare
    const { jids, pin, version } = await account(2);
    expect((await pin(jids[0]!)).status).toBe(200);
    const before = version();
    // Act
    const repeated = await pin(jids[0]!);
    const unpinUnpinned = await pin(jids[1]!, false);
    // Assess
    expect(repeated).toMatchObject({ status: 200, body: { code: 'SUCCESS', message: 'Chat pinned successfully', results: { chat_jid: jids[0], pinned: true } } });
    expect(unpinUnpinned).toMatchObject({ status: 200, body: { code: 'SUCCESS', message: 'Chat unpinned successfully', results: { chat_jid: jids[1], pinned: false } } });
    expect(version()).toBe(before);
  });

  it('a pin the phone already made since our last call → 200 without a patch (confirmed by WhatsApp first)', async () => {
    const { jids, phone, pin, version } = await account(2);
    expect((await pin(jids[0]!)).status).toBe(200);
    await phone.setPinned(jids[1]!, true);
    const before = version();
    expect((await pin(jids[1]!)).status).toBe(200);
    expect(version()).toBe(before);
  });
});

describe('a session stored before the collection was data (Baileys\' one-value app-state-sync-version)', () => {
  it('migrates on its next pin with no operator action: full sync, the cap holds, the old value is gone', async () => {
    // Prepare: a device of today's layout: Baileys itself pinned with chatModify and stored its map
    const { phoneNumber } = world.sim.createAccount();
    const jids = ['15550300001', '15550300002', '15550300003', '15550300004'].map((n) => (world.sim.registerNumber(n), `${n}@s.whatsapp.net`));
    const linked = await world.sim.linkDevice(phoneNumber);
    const auth = memoryAuth(linked.creds, linked.keys);
    const client = connectClient(world.sim, auth);
    expect(await client.settled).toBe('open');
    await client.sock.chatModify({ pin: true }, jids[0]!);
    await endClient(client, world.sim);
    const keys: KeyChanges = {};
    for (const [name, value] of auth.data) {
      const [type, id] = [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)];
      ((keys[type as keyof KeyChanges] ??= {}) as Record<string, unknown>)[id] = value;
    }
    expect(keys['app-state-sync-version']?.regular_low?.version).toBe(1);
    const lease = await world.store.acquireLease('legacy', `seed-${randomUUID()}`, 30);
    await world.store.commit(lease, { creds: auth.creds, keys });
    const phone = world.sim.phone(phoneNumber);
    await phone.setPinned(jids[1]!, true);
    await phone.setPinned(jids[2]!, true);
    // Act
    const fourth = await postPin(handler, { deviceId: 'legacy', chatJid: jids[3]!, pinned: true });
    const unpin = await postPin(handler, { deviceId: 'legacy', chatJid: jids[0]!, pinned: false });
    // Assess
    expect(fourth.status).toBe(409);
    expect(unpin.status).toBe(200);
    expect(world.sim.chatState(phoneNumber, jids[0]!)?.pinned).toBe(false);
    const stored = await world.store.load('legacy');
    expect(stored.keys['app-state-sync-version']?.regular_low).toBeUndefined();
    expect(stored.keys['app-state-meta']?.regular_low).toMatchObject({ version: world.sim.appStateVersion(phoneNumber, 'regular_low'), pinsVersion: world.sim.appStateVersion(phoneNumber, 'regular_low') });
    expect(world.sim.violations).toEqual([]);
  });
});
