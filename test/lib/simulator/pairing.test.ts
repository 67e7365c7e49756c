import { describe, expect, it } from '@jest/globals';
import { connectClient, DisconnectReason, endClient, memoryAuth, quiesce, type Client, simulatorPerTest } from './baileys-client.js';

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
  const fx = simulatorPerTest();

  it('links a fresh Baileys device by QR, restarts with 515, then the phone shares the app-state key so it can pin', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const auth = memoryAuth();
    const pairing = connectClient(fx.sim, auth);
    fx.clients.push(pairing);
    const qr = await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    // Act
    await fx.sim.scanQr(qr, phoneNumber);
    const restart = await pairing.closed;
    const login = connectClient(fx.sim, auth);
    fx.clients.push(login);
    const outcome = await login.settled;
    const keyId = await waitFor(() => auth.creds.myAppStateKeyId);
    await login.sock.chatModify({ pin: true }, '15550005555@s.whatsapp.net');
    // Assess
    expect(restart).toBe(DisconnectReason.restartRequired);
    expect(outcome).toBe('open');
    expect(auth.creds.me?.id).toMatch(new RegExp(`^${phoneNumber}:\\d+@s\\.whatsapp\\.net$`));
    expect(keyId).toEqual(expect.any(String));
    expect(fx.sim.chatState(phoneNumber, '15550005555@s.whatsapp.net')).toMatchObject({ pinned: true, byDevice: auth.creds.me?.id });
    expect(fx.sim.violations).toEqual([]);
  });

  it('rejects a QR whose ref the server never issued', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const pairing = connectClient(fx.sim, memoryAuth());
    fx.clients.push(pairing);
    const qr = await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    const forged = qr.replace(/#[^,]+,/, '#2@forged,');
    // Act
    const error = await fx.sim.scanQr(forged, phoneNumber).catch(e => e as Error);
    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(pairing.isClosed()).toBe(false);
  });

  it('links a device with a pairing code typed on the phone', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const auth = memoryAuth();
    const pairing = connectClient(fx.sim, auth);
    fx.clients.push(pairing);
    await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    const code = await pairing.sock.requestPairingCode(phoneNumber);
    await waitFor(() => fx.sim.record.find(r => r.direction === 'in' && r.xmlns === 'md' && r.type === 'set'));
    await quiesce(fx.sim);
    // Act
    await fx.sim.enterPairingCode!(phoneNumber, code);
    const restart = await pairing.closed;
    const login = connectClient(fx.sim, auth);
    fx.clients.push(login);
    // Assess
    expect(restart).toBe(DisconnectReason.restartRequired);
    expect(await login.settled).toBe('open');
    expect(auth.creds.me?.id).toMatch(new RegExp(`^${phoneNumber}:\\d+@s\\.whatsapp\\.net$`));
    expect(fx.sim.violations).toEqual([]);
  });

  it('refuses a wrong pairing code: the key bundle does not decrypt', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const pairing = connectClient(fx.sim, memoryAuth());
    fx.clients.push(pairing);
    await waitFor(() => pairing.updates.find(update => update.qr)?.qr);
    const code = await pairing.sock.requestPairingCode(phoneNumber);
    await waitFor(() => fx.sim.record.find(r => r.direction === 'in' && r.xmlns === 'md' && r.type === 'set'));
    await quiesce(fx.sim);
    const wrong = code.startsWith('A') ? `B${code.slice(1)}` : `A${code.slice(1)}`;
    // Act
    const error = await fx.sim.enterPairingCode!(phoneNumber, wrong).catch(e => e as Error);
    // Assess
    expect((error as Error).message).toMatch(/unable to authenticate/);
    expect(fx.sim.violations).toEqual([expect.objectContaining({ kind: 'pairing-rejected' })]);
    expect(pairing.isClosed()).toBe(false);
  });
});
