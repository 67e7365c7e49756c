import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { startSimulator, type Simulator } from '../../../lib/simulator/index.js';
import { connectClient, endClient, linkedAuth, type Client } from './baileys-client.js';

describe('simulator login', () => {
  let sim: Simulator;
  const clients: Client[] = [];
  beforeEach(async () => { sim = await startSimulator() });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map(client => endClient(client, sim)));
    await sim.stop();
  });

  it('lets a linked device log in to open with the three login IQs answered from state', async () => {
    // Prepare
    const account = sim.createAccount();
    const { auth, deviceJid } = await linkedAuth(sim, account.phoneNumber, { preKeys: 30 });
    // Act
    const client = connectClient(sim, auth);
    clients.push(client);
    const outcome = await client.settled;
    // Assess
    expect(outcome).toBe('open');
    const inbound = sim.record.filter(r => r.direction === 'in' && r.tag === 'iq').map(r => r.xmlns);
    expect(inbound.slice(0, 3)).toEqual(['encrypt', 'passive', 'encrypt']);
    expect(sim.record.filter(r => r.direction === 'out' && r.tag === 'success')).toHaveLength(1);
    expect(sim.connections(deviceJid)).toEqual({ live: 1, maxConcurrent: 1, total: 1 });
    expect(sim.violations).toEqual([]);
  });
});
