import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { BaileysWhatsApp } from '../../../lib/whatsapp/baileys-whatsapp.js';
import { startWorld, type World } from '../../support/simulated-world.js';

let world: World;
let whatsapp: BaileysWhatsApp;
const context = () => ({ deadline: Date.now() + 15_000, invocationId: randomUUID() });

beforeAll(async () => {
  world = await startWorld();
  whatsapp = new BaileysWhatsApp(world.store, { wsUrl: world.sim.url, checkChatExists: true, leaseSeconds: 30 });
});
afterAll(async () => {
  await world.stop();
});

describe('BaileysWhatsApp against the simulator and DynamoDB Local', () => {
  it('pins and unpins; the simulator verified the patches and the store follows its version', async () => {
    // Prepare
    const linked = await world.link('pin-unpin');
    // Act
    await whatsapp.setChatPinned({ deviceId: 'pin-unpin', chatJid: world.contactJid, pinned: true }, context());
    const afterPin = world.sim.chatState(world.account.phoneNumber, world.contactJid);
    await whatsapp.setChatPinned({ deviceId: 'pin-unpin', chatJid: world.contactJid, pinned: false }, context());
    // Assess
    expect(afterPin).toMatchObject({ pinned: true, byDevice: linked.deviceJid });
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
    const snapshot = await world.store.load('pin-unpin');
    expect(snapshot.keys['app-state-sync-version']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
    expect(world.sim.violations).toEqual([]);
  });
});
