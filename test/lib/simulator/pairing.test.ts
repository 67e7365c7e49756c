import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { startSimulator, type Simulator } from '../../../lib/simulator/index.js';
import { connectClient, DisconnectReason, endClient, memoryAuth, quiesce, type Client } from './baileys-client.js';

const waitFor = async <T>(probe: () => T | undefined, timeoutMs = 5_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise(resolve => setTimeout(resolve, 20));
  }
};

describe('simulator QR pairing', () => {
  let sim: Simulator;
  const clients: Client[] = [];
  beforeEach(async () => { sim = await startSimulator() });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map(client => endClient(client, sim)));
    await sim.stop();
  });

  it('links a fresh Baileys device by QR, restarts with 515, then the phone shares the app-state key so it can pin', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const auth = memoryAuth();
    const pairing = connectClient(sim, auth);
    clients.push(pairing);
    const qr = await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    // Act
    await sim.scanQr(qr, phoneNumber);
    const restart = await pairing.closed;
    const login = connectClient(sim, auth);
    clients.push(login);
    const outcome = await login.settled;
    const keyId = await waitFor(() => auth.creds.myAppStateKeyId);
    await login.sock.chatModify({ pin: true }, '15550005555@s.whatsapp.net');
    // Assess
    expect(restart).toBe(DisconnectReason.restartRequired);
    expect(outcome).toBe('open');
    expect(auth.creds.me?.id).toMatch(new RegExp(`^${phoneNumber}:\\d+@s\\.whatsapp\\.net$`));
    expect(keyId).toEqual(expect.any(String));
    expect(sim.chatState(phoneNumber, '15550005555@s.whatsapp.net')).toMatchObject({ pinned: true, byDevice: auth.creds.me?.id });
    expect(sim.violations).toEqual([]);
  });

  it('rejects a QR whose ref the server never issued', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const pairing = connectClient(sim, memoryAuth());
    clients.push(pairing);
    const qr = await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    const forged = qr.replace(/#[^,]+,/, '#2@forged,');
    // Act
    const error = await sim.scanQr(forged, phoneNumber).catch(e => e as Error);
    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(pairing.isClosed()).toBe(false);
  });

  it('links a device with a pairing code typed on the phone', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const auth = memoryAuth();
    const pairing = connectClient(sim, auth);
    clients.push(pairing);
    await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    const code = await pairing.sock.requestPairingCode(phoneNumber);
    await waitFor(() => sim.record.find(r => r.direction === 'in' && r.xmlns === 'md' && r.type === 'set'));
    await quiesce(sim);
    // Act
    await sim.enterPairingCode!(phoneNumber, code);
    const restart = await pairing.closed;
    const login = connectClient(sim, auth);
    clients.push(login);
    // Assess
    expect(restart).toBe(DisconnectReason.restartRequired);
    expect(await login.settled).toBe('open');
    expect(auth.creds.me?.id).toMatch(new RegExp(`^${phoneNumber}:\\d+@s\\.whatsapp\\.net$`));
    expect(sim.violations).toEqual([]);
  });

  it('refuses a wrong pairing code: the key bundle does not decrypt', async () => {
    // Prepare
    const { phoneNumber } = sim.createAccount();
    const pairing = connectClient(sim, memoryAuth());
    clients.push(pairing);
    await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    const code = await pairing.sock.requestPairingCode(phoneNumber);
    await waitFor(() => sim.record.find(r => r.direction === 'in' && r.xmlns === 'md' && r.type === 'set'));
    await quiesce(sim);
    const wrong = code.startsWith('A') ? `B${code.slice(1)}` : `A${code.slice(1)}`;
    // Act
    const error = await sim.enterPairingCode!(phoneNumber, wrong).catch(e => e as Error);
    // Assess
    expect((error as Error).message).toMatch(/unable to authenticate/);
    expect(sim.violations).toEqual([expect.objectContaining({ kind: 'pairing-rejected' })]);
    expect(pairing.isClosed()).toBe(false);
  });
});
