import { describe, expect, it } from '@jest/globals';
import { connectClient, DisconnectReason, endClient, linkedAuth, type Client, simulatorPerTest } from './baileys-client.js';

describe('simulator faults as Baileys sees them', () => {
  const fx = simulatorPerTest();
  const connect = (auth: Parameters<typeof connectClient>[1], options?: Parameters<typeof connectClient>[2]) => {
    const client = connectClient(fx.sim, auth, options);
    fx.clients.push(client);
    return client;
  };

  it('answers a logged-out fault with <failure reason="401"> → loggedOut', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    fx.sim.setFaults([{ kind: 'logged-out' }], { deviceJid });
    // Act
    const outcome = await connect(auth).settled;
    // Assess
    expect(outcome).toBe(DisconnectReason.loggedOut);
    expect(fx.sim.record.filter(r => r.tag === 'failure')).toHaveLength(1);
    expect(fx.sim.connections(deviceJid).total).toBe(0);
  });

  it('refuses a device whose noise key is not the linked one (401) and an unlinked device (401)', async () => {
    // Prepare
    const phone = fx.sim.createAccount().phoneNumber;
    const impostor = await linkedAuth(fx.sim, phone);
    const genuine = await linkedAuth(fx.sim, phone);
    const stolen = { ...impostor.auth, creds: { ...impostor.auth.creds, me: genuine.creds.me } };
    const removed = await linkedAuth(fx.sim, phone);
    fx.sim.unlinkDevice(removed.deviceJid);
    // Act
    const outcomes = [await connect(stolen).settled, await connect(removed.auth).settled];
    // Assess
    expect(outcomes).toEqual([DisconnectReason.loggedOut, DisconnectReason.loggedOut]);
  });

  it('logs a live device out with stream error 401 when the phone unlinks it', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    const client = connect(auth);
    expect(await client.settled).toBe('open');
    // Act
    fx.sim.unlinkDevice(deviceJid);
    // Assess
    expect(await client.closed).toBe(DisconnectReason.loggedOut);
  });

  it('replaces the older connection of a device with conflict type="replaced" → 440', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    const first = connect(auth);
    expect(await first.settled).toBe('open');
    // Act
    const second = connect(auth);
    // Assess
    expect(await second.settled).toBe('open');
    expect(await first.closed).toBe(DisconnectReason.connectionReplaced);
    // the replaced connection stopped being live the moment the newer one logged in, as on the real server
    expect(fx.sim.connections(deviceJid)).toMatchObject({ live: 1, total: 2, maxConcurrent: 1 });
  });

  it('closes the socket on the client hello when refusing the handshake → connectionClosed', async () => {
    // Prepare
    const { auth } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    fx.sim.setFaults([{ kind: 'refuse-handshake' }]);
    // Act
    const outcome = await connect(auth).settled;
    // Assess
    expect(outcome).toBe(DisconnectReason.connectionClosed);
    expect(fx.sim.record).toEqual([]);
  });

  it('drops the connection when a matching stanza arrives', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    fx.sim.setFaults([{ kind: 'drop-on', match: { xmlns: 'passive', child: 'active' } }], { deviceJid });
    // Act
    const outcome = await connect(auth).settled;
    // Assess
    expect(outcome).toBe(DisconnectReason.connectionClosed);
    expect(fx.sim.record.filter(r => r.direction === 'out' && r.tag === 'iq')).toHaveLength(1); // only the count IQ was answered
  });

  it('never answers an ignored IQ: Baileys gives up after its query timeout with no answer', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    const client = connect(auth, { queryTimeoutMs: 300 });
    expect(await client.settled).toBe('open');
    fx.sim.setFaults([{ kind: 'ignore', match: { xmlns: 'usync' } }], { deviceJid });
    // Act
    const started = performance.now();
    const answer = await client.sock.onWhatsApp('15550007777');
    const elapsed = performance.now() - started;
    fx.sim.clearFaults();
    // Assess
    expect(answer).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(290);
    const usync = fx.sim.record.filter(r => r.xmlns === 'usync' || r.id === fx.sim.record.find(q => q.xmlns === 'usync')?.id);
    expect(usync.map(r => r.direction)).toEqual(['in']);
  });

  it('times the connection out (408) when latency exceeds the connect timeout', async () => {
    // Prepare
    const { auth } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    fx.sim.setFaults([{ kind: 'latency', ms: 600 }]);
    // Act
    const outcome = await connect(auth, { connectTimeoutMs: 300 }).settled;
    // Assess
    expect(outcome).toBe(DisconnectReason.timedOut);
  });

  it('answers a matching IQ with a top-level error', async () => {
    // Prepare
    const { auth } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    const client = connect(auth);
    expect(await client.settled).toBe('open');
    fx.sim.setFaults([{ kind: 'iq-error', match: { xmlns: 'usync' }, code: 503, text: 'service-unavailable' }]);
    // Act
    const error = await client.sock.onWhatsApp('15550007777').catch(e => e);
    // Assess
    expect(error).toMatchObject({ message: 'service-unavailable', data: 503 });
  });

  it('delays every frame by the latency fault', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    const client = connect(auth);
    expect(await client.settled).toBe('open');
    fx.sim.setFaults([{ kind: 'latency', ms: 150 }], { deviceJid });
    // Act
    const started = performance.now();
    await client.sock.onWhatsApp('15550007777');
    const elapsed = performance.now() - started;
    fx.sim.clearFaults();
    // Assess
    expect(elapsed).toBeGreaterThanOrEqual(300);
  });
});
