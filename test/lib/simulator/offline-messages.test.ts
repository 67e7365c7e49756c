import { describe, expect, it } from '@jest/globals';
import type { BinaryNode, proto } from '@whiskeysockets/baileys';
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

  it("queues contacts' messages (pkmsg first, msg after) and an app-state key share, delivers them at login, and empties on Baileys' receipts", async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const { auth, deviceJid } = await linkedAuth(fx.sim, phoneNumber, { preKeys: 5 });
    await fx.sim.phone(phoneNumber).rotateAppStateKey(); // a share queued before the contacts' messages
    const { senders } = await fx.sim.queueContactMessages(deviceJid, { senders: 8, messages: 40, appStateKeyShareAt: 20 });
    const queued = fx.sim.offlineQueue(deviceJid);
    const registry = (fx.sim as unknown as { registry: { device(jid: string): { offline: BinaryNode[] } } }).registry;
    const encOf = (message: BinaryNode) => `${message.attrs.from.split('@')[0] === phoneNumber ? 'phone' : 'contact'}:${(message.content as BinaryNode[])[0].attrs.type}`;
    const encTypes = registry.device(deviceJid).offline.map(encOf).reduce<Record<string, number>>((counts, type) => ({ ...counts, [type]: (counts[type] ?? 0) + 1 }), {});
    const client = connectClient(fx.sim, auth);
    fx.clients.push(client);
    const texts: string[] = [];
    client.sock.ev.on('messages.upsert', ({ messages }: { messages: proto.IWebMessageInfo[] }) => {
      for (const message of messages) if (message.message?.conversation) texts.push(message.message.conversation);
    });
    // Act
    expect(await client.settled).toBe('open');
    for (let i = 0; i < 100 && fx.sim.offlineQueue(deviceJid).queued > 0; i++) await new Promise(resolve => setTimeout(resolve, 100));
    await quiesce(fx.sim, 300);
    // Assess
    expect(queued).toEqual(expect.objectContaining({ queued: 42, total: 42 }));
    expect(senders).toHaveLength(8);
    expect(encTypes).toEqual({ 'phone:pkmsg': 2, 'contact:pkmsg': 8, 'contact:msg': 32 });
    expect(fx.sim.record.filter(r => r.direction === 'out' && r.tag === 'message')).toHaveLength(42);
    expect(texts).toHaveLength(40);
    expect(texts).toContain(`message 40 of 40 from ${senders[7].split('@')[0]}`);
    expect(fx.sim.offlineQueue(deviceJid)).toEqual({
      queued: 0, total: 42, delivered: 42, receipted: 42, retryReceipts: 0, acks: 0, receiptTypes: { peer_msg: 2, inactive: 40 },
    });
    expect(Object.keys(Object.fromEntries(auth.data)).filter(key => key.startsWith('app-state-sync-key/'))).toHaveLength(2);
    expect(fx.sim.violations).toEqual([]);
  });
});
