import { describe, expect, it } from '@jest/globals';
import { connectClient, endClient, linkedAuth, type Client, simulatorPerTest } from './baileys-client.js';

describe('simulator login', () => {
  const fx = simulatorPerTest();

  it('lets a linked device log in to open with the three login IQs answered from state', async () => {
    // Prepare
    const account = fx.sim.createAccount();
    const { auth, deviceJid } = await linkedAuth(fx.sim, account.phoneNumber, { preKeys: 30 });
    // Act
    const client = connectClient(fx.sim, auth);
    fx.clients.push(client);
    const outcome = await client.settled;
    // Assess
    expect(outcome).toBe('open');
    const inbound = fx.sim.record.filter(r => r.direction === 'in' && r.tag === 'iq').map(r => r.xmlns);
    expect(inbound.slice(0, 3)).toEqual(['encrypt', 'passive', 'encrypt']);
    expect(fx.sim.record.filter(r => r.direction === 'out' && r.tag === 'success')).toHaveLength(1);
    expect(fx.sim.connections(deviceJid)).toEqual({ live: 1, maxConcurrent: 1, total: 1 });
    expect(fx.sim.violations).toEqual([]);
  });
});
