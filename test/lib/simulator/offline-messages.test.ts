import { describe, expect, it } from '@jest/globals';
import type { proto } from '@whiskeysockets/baileys';
import { connectClient, endClient, linkedAuth, quiesce, type Client, simulatorPerTest } from './baileys-client.js';

describe('simulator offline messages', () => {
  const fx = simulatorPerTest();

  it('delivers queued phone messages Signal-encrypted at login, closed by <ib><offline>, and drops them on receipt', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber);
    fx.sim.queueOfflineMessages(deviceJid, 3);
    const first = connectClient(fx.sim, auth);
    fx.clients.push(first);
    const texts: string[] = [];
    first.sock.ev.on('messages.upsert', ({ messages }: { messages: proto.IWebMessageInfo[] }) => {
      for (const message of messages) if (message.message?.conversation) texts.push(message.message.conversation);
    });
    // Act
    expect(await first.settled).toBe('open');
    await quiesce(fx.sim, 300);
    await endClient(fx.clients.pop()!, fx.sim);
    fx.sim.clearRecord();
    const second = connectClient(fx.sim, auth);
    fx.clients.push(second);
    expect(await second.settled).toBe('open');
    await quiesce(fx.sim, 200);
    // Assess
    expect(texts).toEqual(['offline message 1 of 3', 'offline message 2 of 3', 'offline message 3 of 3']);
    expect(fx.sim.record.filter(r => r.direction === 'out' && r.tag === 'message')).toHaveLength(0);
    expect(fx.sim.record.filter(r => r.direction === 'out' && r.tag === 'ib')).toHaveLength(1);
    expect(fx.sim.violations).toEqual([]);
  });
});
