import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { startControlServer, type ControlServer } from '../../../lib/simulator/control-server.js';
import { startSimulator, type Simulator } from '../../../lib/simulator/index.js';

describe('simulator HTTP control endpoint', () => {
  let sim: Simulator;
  let control: ControlServer;
  beforeEach(async () => {
    sim = await startSimulator();
    control = await startControlServer(sim);
  });
  afterEach(async () => {
    await control.close();
    await sim.stop();
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${control.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  };

  it('binds to loopback only', () => {
    // Assess
    expect(new URL(control.url).hostname).toBe('127.0.0.1');
  });

  it('pins a chat from the phone and shows it in the phone view of the chats', async () => {
    // Prepare
    const account = (await call('POST', '/accounts', { phoneNumber: '15550400004' })).body;
    // Act
    const pin = await call('POST', '/phone/pin', { phoneNumber: account.phoneNumber, chatJid: '15550500005@s.whatsapp.net', pinned: true });
    const chats = await call('GET', '/chats/15550400004');
    // Assess
    expect(pin).toMatchObject({ status: 200, body: { pinned: true } });
    expect(chats.body.pinned).toEqual(['15550500005@s.whatsapp.net']);
    expect(sim.appStateVersion('15550400004', 'regular_low')).toBe(1);
  });

  it('archives a chat from the phone', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    // Act
    const archive = await call('POST', '/phone/archive', { phoneNumber, chatJid: '15550500005@s.whatsapp.net', archived: true });
    // Assess
    expect(archive).toMatchObject({ status: 200, body: { archived: true } });
    expect(sim.chatState(phoneNumber, '15550500005@s.whatsapp.net')).toMatchObject({ archived: true });
  });

  it('sets faults and reports them, with accounts and devices, in /state', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const device = (await call('POST', '/devices', { phoneNumber, preKeys: 3 })).body;
    // Act
    const set = await call('POST', '/faults', { faults: [{ kind: 'logged-out' }], deviceJid: device.deviceJid });
    const state = (await call('GET', '/state')).body as { faults: { byDevice: Record<string, unknown[]> }; accounts: { devices: { jid: string; preKeys: number }[] }[] };
    // Assess
    expect(set.status).toBe(200);
    expect(state.faults.byDevice[device.deviceJid as string]).toEqual([{ kind: 'logged-out' }]);
    expect(state.accounts[0].devices).toEqual([expect.objectContaining({ jid: device.deviceJid, preKeys: 3 })]);
    expect((device.creds as { noiseKey: { public: { type: string } } }).noiseKey.public.type).toBe('Buffer');
  });

  it('answers bad requests with 400, unknown routes with 404 and failed actions with 422', async () => {
    // Act
    const bad = await call('POST', '/phone/pin', { chatJid: 'x@s.whatsapp.net' });
    const missing = await call('GET', '/nothing');
    const failed = await call('POST', '/phone/scan', { qr: 'not-a-qr', phoneNumber: sim.createAccount().phoneNumber });
    // Assess
    expect(bad.status).toBe(400);
    expect(missing.status).toBe(404);
    expect(failed.status).toBe(422);
  });

  it('drives the phone: seeds a history, mutates, hits the pin limit, rotates the key and compacts', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const pins = ['15550500001', '15550500002', '15550500003'].map(n => `${n}@s.whatsapp.net`);
    // Act
    const seeded = await call('POST', '/seed', { phoneNumber, entries: 50, pinned: pins.slice(0, 2), laterPatches: 3 });
    const limit = await call('POST', '/phone/pin-limit', { phoneNumber, pinLimit: 2, delayMs: 10 });
    const mutated = await call('POST', '/phone/mutate', { phoneNumber, changes: [{ action: 'pin', chatJid: pins[2], value: true }, { action: 'markRead', chatJid: pins[0], value: true }] });
    await sim.phone(phoneNumber).idle();
    const pinned = await call('GET', `/pinned/${phoneNumber}`);
    const rotated = await call('POST', '/phone/rotate-key', { phoneNumber });
    const compacted = await call('POST', '/phone/compact', { phoneNumber });
    const media = await call('POST', '/media-faults', { faults: [{ kind: 'http-status', status: 500 }] });
    const state = (await call('GET', '/state')).body as { mediaUrl: string; faults: { media: unknown[] } };
    // Assess
    expect(seeded).toMatchObject({ status: 200, body: { chats: 50, snapshotVersion: 33, version: 36 } });
    expect(limit.body).toEqual({ pinLimit: 2, delayMs: 10 });
    expect(mutated.body).toMatchObject({ version: 37 });
    expect((pinned.body.pinned as { chatJid: string }[]).map(p => p.chatJid)).toEqual(pins.slice(1));
    expect(rotated.body).toEqual({ keyId: expect.any(String), timestamp: expect.any(Number) });
    expect(compacted.body).toEqual({ version: 38, directPath: expect.stringMatching(/^\/v\//) });
    expect(media.status).toBe(200);
    expect(state.mediaUrl).toBe(sim.mediaUrl);
    expect(state.faults.media).toEqual([{ kind: 'http-status', status: 500 }]);
  });

  it("queues contacts' messages for a device and shows its offline queue", async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const device = (await call('POST', '/devices', { phoneNumber })).body;
    // Act
    const queued = await call('POST', '/contact-messages', { deviceJid: device.deviceJid, senders: 3, messages: 6 });
    const queue = await call('GET', `/offline-queue/${device.deviceJid}`);
    // Assess
    expect((queued.body.senders as string[])).toHaveLength(3);
    expect(queue.body).toMatchObject({ queued: 6, total: 6, delivered: 0, receipted: 0 });
  });
});
