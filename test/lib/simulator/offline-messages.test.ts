import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { proto } from '@whiskeysockets/baileys';
import { startSimulator, type Simulator } from '../../../lib/simulator/index.js';
import { connectClient, endClient, linkedAuth, quiesce, type Client } from './baileys-client.js';

describe('simulator offline messages', () => {
  let sim: Simulator;
  const clients: Client[] = [];
  beforeEach(async () => { sim = await startSimulator() });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map(client => endClient(client, sim)));
    await sim.stop();
  });

  it('delivers queued phone messages Signal-encrypted at login, closed by <ib><offline>, and drops them on receipt', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(sim, sim.createAccount().phoneNumber);
    sim.queueOfflineMessages(deviceJid, 3);
    const first = connectClient(sim, auth);
    clients.push(first);
    const texts: string[] = [];
    first.sock.ev.on('messages.upsert', ({ messages }: { messages: proto.IWebMessageInfo[] }) => {
      for (const message of messages) if (message.message?.conversation) texts.push(message.message.conversation);
    });
    // Act
    expect(await first.settled).toBe('open');
    await quiesce(sim, 300);
    await endClient(clients.pop()!, sim);
    sim.clearRecord();
    const second = connectClient(sim, auth);
    clients.push(second);
    expect(await second.settled).toBe('open');
    await quiesce(sim, 200);
    // Assess
    expect(texts).toEqual(['offline message 1 of 3', 'offline message 2 of 3', 'offline message 3 of 3']);
    expect(sim.record.filter(r => r.direction === 'out' && r.tag === 'message')).toHaveLength(0);
    expect(sim.record.filter(r => r.direction === 'out' && r.tag === 'ib')).toHaveLength(1);
    expect(sim.violations).toEqual([]);
  });
});
