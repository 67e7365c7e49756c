import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { USyncQuery, USyncUser } from '@whiskeysockets/baileys';
import { startSimulator, type Simulator } from '../../../lib/simulator/index.js';
import { connectClient, endClient, linkedAuth, type Client } from './baileys-client.js';

describe('simulator queries through a plain Baileys socket', () => {
  let sim: Simulator;
  let client: Client;
  let phoneNumber: string;
  beforeEach(async () => {
    sim = await startSimulator();
    phoneNumber = sim.createAccount({ phoneNumber: '15550100001' }).phoneNumber;
    client = connectClient(sim, (await linkedAuth(sim, phoneNumber)).auth);
    expect(await client.settled).toBe('open');
  });
  afterEach(async () => {
    await endClient(client, sim);
    await sim.stop();
  });

  it('answers onWhatsApp from the registry: registered numbers exist, others are absent', async () => {
    // Prepare
    sim.registerNumber('15550200002');
    sim.createAccount({ phoneNumber: '15550300003' });
    // Act
    const answer = await client.sock.onWhatsApp('15550200002', '+15550300003', '15550999999@s.whatsapp.net');
    // Assess
    expect(answer).toEqual([
      { jid: '15550200002@s.whatsapp.net', exists: true },
      { jid: '15550300003@s.whatsapp.net', exists: true },
    ]);
  });

  it('answers group metadata for a member, 403 for a non-member and 404 for no group', async () => {
    // Prepare
    const mine = sim.createGroup({ subject: 'Team', participants: [phoneNumber, '15550200002'] });
    const theirs = sim.createGroup({ subject: 'Other', participants: ['15550200002@s.whatsapp.net'] });
    // Act
    const metadata = await client.sock.groupMetadata(mine);
    const forbidden = await client.sock.groupMetadata(theirs).catch(e => e);
    const missing = await client.sock.groupMetadata('120363000000000000@g.us').catch(e => e);
    // Assess
    expect(metadata).toMatchObject({ id: mine, subject: 'Team', size: 2 });
    expect(metadata.participants.map(p => p.id)).toEqual([`${phoneNumber}@s.whatsapp.net`, '15550200002@s.whatsapp.net']);
    expect(forbidden).toMatchObject({ data: 403 });
    expect(missing).toMatchObject({ data: 404 });
  });

  it('records every stanza with direction, tag, xmlns and a monotonic time', async () => {
    // Prepare
    sim.clearRecord();
    // Act
    await client.sock.onWhatsApp('15550200002');
    // Assess
    const usync = sim.record.filter(r => r.xmlns === 'usync' || sim.record.some(q => q.xmlns === 'usync' && q.id === r.id));
    expect(usync.map(r => [r.direction, r.tag, r.type])).toEqual([['in', 'iq', 'get'], ['out', 'iq', 'result']]);
    expect(usync[1].at).toBeGreaterThanOrEqual(usync[0].at);
    expect(new Set(usync.map(r => r.connectionId)).size).toBe(1);
  });

  it('answers an unknown IQ with a well-formed empty result', async () => {
    // Act
    const answer = await client.sock.query({ tag: 'iq', attrs: { to: '@s.whatsapp.net', type: 'get', xmlns: 'w:unknown' }, content: [{ tag: 'whatever', attrs: {} }] });
    // Assess
    expect(answer).toMatchObject({ tag: 'iq', attrs: { type: 'result' } });
  });

  it('answers usync LID and device queries from the accounts and their linked devices', async () => {
    // Prepare
    const other = sim.createAccount({ phoneNumber: '15550600006', lid: '99990000000001' });
    await sim.linkDevice(other.phoneNumber);
    const removed = await sim.linkDevice(other.phoneNumber);
    sim.unlinkDevice(removed.deviceJid);
    const query = new USyncQuery().withLIDProtocol().withDeviceProtocol().withUser(new USyncUser().withId(other.jid));
    // Act
    const answer = await client.sock.executeUSyncQuery(query);
    // Assess
    expect(answer?.list).toEqual([{ id: other.jid, lid: '99990000000001@lid', devices: { deviceList: [expect.objectContaining({ id: 0 }), expect.objectContaining({ id: 1 })], keyIndex: undefined } }]);
  });

  it('answers usync by LID truthfully: a known LID is in, with its devices; an unknown one is out, with none', async () => {
    // Prepare
    const account = sim.createAccount({ phoneNumber: '15550700007', lid: '99990000000007' });
    await sim.linkDevice(account.phoneNumber);
    sim.registerNumber('15550800008', '99990000000008');
    const query = new USyncQuery().withContactProtocol().withDeviceProtocol();
    for (const lid of ['99990000000007@lid', '99990000000008@lid', '12345678901234@lid']) query.withUser(new USyncUser().withId(lid));
    // Act
    const answer = await client.sock.executeUSyncQuery(query);
    // Assess
    expect(answer?.list).toEqual([
      { id: '99990000000007@lid', contact: true, devices: { deviceList: [expect.objectContaining({ id: 0 }), expect.objectContaining({ id: 1 })], keyIndex: undefined } },
      { id: '99990000000008@lid', contact: true, devices: { deviceList: [expect.objectContaining({ id: 0 })], keyIndex: undefined } },
      { id: '12345678901234@lid', contact: false },
    ]);
  });

  it('lists the groups the account participates in', async () => {
    // Prepare
    const mine = sim.createGroup({ subject: 'Mine', participants: [phoneNumber] });
    sim.createGroup({ subject: 'Not mine', participants: ['15550200002'] });
    // Act
    const groups = await client.sock.groupFetchAllParticipating();
    // Assess
    expect(Object.keys(groups)).toEqual([mine]);
  });
});
