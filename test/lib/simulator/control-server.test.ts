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
});
