import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { expectLogs } from '../support/expected-logs.js';
import { coldHandler, postPin, type Handler } from '../support/handler-calls.js';
import { seedSession, startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';

// Real accounts, end to end (handler + DynamoDB Local + simulator with its media host): histories compacted
// into snapshots under an older app-state key, later patches under a rotated one, the pin cap on top.
let world: HandlerWorld;
let handler: Handler;
let devices = 0;

beforeAll(async () => {
  world = await startHandlerWorld();
  handler = await coldHandler();
});
afterAll(async () => {
  await world.stop();
});

/** A fresh account with `entries` chats of history, two pinned in its snapshot and one pinned later by the phone. */
async function seededAccount(entries: number, options: { linkFirst?: boolean } = {}) {
  const { phoneNumber } = world.sim.createAccount();
  const deviceId = `history-${++devices}`;
  const pinned = [1, 2, 3].map((i) => `1555070${String(devices).padStart(2, '0')}${i}@s.whatsapp.net`);
  const link = () => world.link(deviceId, phoneNumber);
  const linked = options.linkFirst ? await link() : undefined;
  const seeded = await world.sim.seedAppState(phoneNumber, { entries, pinned: pinned.slice(0, 2), laterPinned: pinned.slice(2) });
  const device = linked ?? (await link());
  const fourth = `1555071${String(devices).padStart(2, '0')}1@s.whatsapp.net`;
  world.sim.registerNumber(fourth.split('@')[0]!);
  return { phoneNumber, deviceId, device, seeded, pinned, fourth, pin: (chatJid: string, value = true) => postPin(handler, { deviceId, chatJid, pinned: value }) };
}

describe('accounts with history', () => {
  it('3 pinned (two in the snapshot, one pinned later by the phone) → a 4th pin answers 409 and sends nothing; unpin one → the 4th lands', async () => {
    // Prepare
    const { phoneNumber, deviceId, pinned, fourth, pin } = await seededAccount(2_000);
    const before = world.sim.appStateVersion(phoneNumber, 'regular_low');
    // Act
    const refused = await pin(fourth);
    const afterRefusal = world.sim.appStateVersion(phoneNumber, 'regular_low');
    const unpinned = await pin(pinned[0]!, false);
    const landed = await pin(fourth);
    // Assess
    expect(refused).toMatchObject({ status: 409, body: { code: '409', message: 'You can only pin up to 3 chats' } });
    expect(afterRefusal).toBe(before);
    expect(unpinned.status).toBe(200);
    expect(landed.status).toBe(200);
    expect(world.sim.pinnedChats(phoneNumber).map((chat) => chat.chatJid).sort()).toEqual([pinned[1], pinned[2], fourth].sort());
    const meta = (await world.store.load(deviceId)).keys['app-state-meta']?.regular_low;
    expect(meta).toMatchObject({ version: world.sim.appStateVersion(phoneNumber, 'regular_low'), pinsVersion: world.sim.appStateVersion(phoneNumber, 'regular_low') });
    expect(world.sim.violations).toEqual([]);
  });

  it('a device linked before the phone rotated its key gets the new key from its backlog, and uploads with the newest key', async () => {
    // Prepare: linked first; the rotation's key share waits in the device's offline queue
    const { phoneNumber, pinned, pin } = await seededAccount(300, { linkFirst: true });
    // Act
    const answer = await pin(pinned[1]!, false);
    // Assess
    expect(answer.status).toBe(200);
    expect(world.sim.chatState(phoneNumber, pinned[1]!)?.pinned).toBe(false);
    expect(world.sim.violations).toEqual([]);
  });

  it('the media host fails the snapshot → 502, nothing stored of it; the next pin syncs and lands', async () => {
    // Prepare
    const { phoneNumber, deviceId, pinned, pin } = await seededAccount(500);
    world.sim.setMediaFaults([{ kind: 'http-status', status: 500, times: 1 }]);
    // Act
    const failed = await pin(pinned[0]!, false);
    const stored = (await world.store.load(deviceId)).keys['app-state-meta']?.regular_low;
    const next = await pin(pinned[0]!, false);
    // Assess
    expect(failed).toMatchObject({ status: 502, body: { code: 'BAD_GATEWAY' } });
    expect(stored?.pinsVersion).toBeUndefined();
    expect(next.status).toBe(200);
    expect(world.sim.chatState(phoneNumber, pinned[0]!)?.pinned).toBe(false);
  });

  it('app state under a key the device never got → 500 telling the operator what to do; nothing stored of it', async () => {
    // Prepare: a device whose session lacks the older key the account's snapshot is under
    const { phoneNumber } = world.sim.createAccount();
    const seeded = await world.sim.seedAppState(phoneNumber, { entries: 100 });
    const linked = await world.sim.linkDevice(phoneNumber);
    const { [seeded.snapshotKeyId]: _older, ...others } = linked.keys['app-state-sync-key']!;
    expect(Object.keys(others)).toEqual([seeded.currentKeyId]);
    await seedSession(world.store, 'missing-key', { creds: linked.creds, keys: { ...linked.keys, 'app-state-sync-key': others } });
    // Act
    const { result: answer, logs } = await expectLogs(() => postPin(handler, { deviceId: 'missing-key', chatJid: world.contactJid, pinned: true }));
    // Assess: a device that cannot pin until someone acts is what ERROR is for
    expect(answer).toMatchObject({ status: 500, body: { code: 'INTERNAL_SERVER_ERROR', message: expect.stringContaining('open WhatsApp on the phone') } });
    expect(logs.filter((line) => line.level === 'ERROR')).toEqual([expect.objectContaining({ message: 'request failed', error: expect.stringMatching(/^AppStateKeyMissingError: /) })]);
    expect((await world.store.load('missing-key')).keys['app-state-meta']?.regular_low?.pinsVersion).toBeUndefined();
  });
});
