import { describe, expect, it } from '@jest/globals';
import { connectClient, linkedAuth, simulatorPerTest } from './baileys-client.js';

describe('simulator app state through a plain Baileys socket', () => {
  const fx = simulatorPerTest();

  const openDevice = async () => {
    const account = fx.sim.createAccount();
    const linked = await linkedAuth(fx.sim, account.phoneNumber);
    const client = connectClient(fx.sim, linked.auth);
    fx.clients.push(client);
    expect(await client.settled).toBe('open');
    return { account, deviceJid: linked.deviceJid, sock: client.sock };
  };

  it('records a pin and an unpin sent by Baileys, verified and decoded per chat', async () => {
    // Prepare
    const { account, deviceJid, sock } = await openDevice();
    const chat = '15550009999@s.whatsapp.net';
    // Act
    await sock.chatModify({ pin: true }, chat);
    const afterPin = fx.sim.chatState(account.phoneNumber, chat);
    await sock.chatModify({ pin: false }, chat);
    // Assess
    expect(afterPin).toMatchObject({ pinned: true, byDevice: deviceJid });
    expect(afterPin?.pinnedAt).toEqual(expect.any(Number));
    expect(fx.sim.chatState(account.phoneNumber, chat)).toMatchObject({ pinned: false, byDevice: deviceJid });
    expect(fx.sim.appStateVersion(account.phoneNumber, 'regular_low')).toBe(2);
    expect(fx.sim.violations).toEqual([]);
  });

  it('lets Baileys resync a pin made on the phone before it uploads its own patch', async () => {
    // Prepare
    const { account, sock } = await openDevice();
    await fx.sim.phone(account.phoneNumber).setPinned('15550001111@s.whatsapp.net', true);
    // Act
    await sock.chatModify({ pin: true }, '15550002222@s.whatsapp.net');
    // Assess
    expect(fx.sim.chatState(account.phoneNumber, '15550001111@s.whatsapp.net')?.pinned).toBe(true);
    expect(fx.sim.chatState(account.phoneNumber, '15550002222@s.whatsapp.net')?.pinned).toBe(true);
    expect(fx.sim.chats(account.phoneNumber)).toEqual([
      expect.objectContaining({ chatJid: '15550001111@s.whatsapp.net', pinned: true }),
      expect.objectContaining({ chatJid: '15550002222@s.whatsapp.net', pinned: true }),
    ]);
    expect(fx.sim.appStateVersion(account.phoneNumber, 'regular_low')).toBe(2);
    expect(fx.sim.violations).toEqual([]);
  });

  it('rejects a patch built on a version the phone moved past (race injected before the upload)', async () => {
    // Prepare
    const { account, sock } = await openDevice();
    const phoneChat = '15550003333@s.whatsapp.net';
    const deviceChat = '15550004444@s.whatsapp.net';
    fx.sim.beforeNextPatch(account.phoneNumber, () => fx.sim.phone(account.phoneNumber).setPinned(phoneChat, true));
    // Act
    await sock.chatModify({ pin: true }, deviceChat);
    // Assess
    expect(fx.sim.chatState(account.phoneNumber, phoneChat)?.pinned).toBe(true);
    expect(fx.sim.chatState(account.phoneNumber, deviceChat)).toBeUndefined();
    expect(fx.sim.chats(account.phoneNumber).map((chat) => chat.chatJid)).toEqual([phoneChat]);
    expect(fx.sim.appStateVersion(account.phoneNumber, 'regular_low')).toBe(1);
  });
});
