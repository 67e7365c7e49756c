import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { getNextPreKeysNode } from '@whiskeysockets/baileys';
import { simulatorSnapshot } from '../../../lib/simulator/simulator.js';
import { connectClient, linkedAuth, quiesce, simulatorPerTest } from './baileys-client.js';

describe('simulator pre-keys', () => {
  const fx = simulatorPerTest();
  const preKeysOf = (deviceJid: string) => simulatorSnapshot(fx.sim).accounts.flatMap(a => a.devices).find(d => d.jid === deviceJid)?.preKeys;

  it('answers the count from what it holds: 30 linked pre-keys → Baileys uploads nothing', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber, { preKeys: 30 });
    // Act
    const client = connectClient(fx.sim, auth);
    fx.clients.push(client);
    expect(await client.settled).toBe('open');
    // Assess
    expect(fx.sim.record.filter(r => r.direction === 'in' && r.xmlns === 'encrypt' && r.type === 'set')).toHaveLength(0);
    expect(preKeysOf(deviceJid)).toBe(30);
  });

  it('keeps the pre-keys Baileys uploads when the count is low', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber, { preKeys: 5 });
    // Act
    const client = connectClient(fx.sim, auth);
    fx.clients.push(client);
    expect(await client.settled).toBe('open');
    await quiesce(fx.sim);
    // Assess
    expect(fx.sim.record.filter(r => r.direction === 'in' && r.xmlns === 'encrypt' && r.type === 'set')).toHaveLength(1);
    expect(preKeysOf(deviceJid)).toBe(10);
    expect(fx.sim.violations).toEqual([]);
  });

  it('rejects an upload whose signed pre-key signature does not verify (406) and records a violation', async () => {
    // Prepare
    const { auth, deviceJid } = await linkedAuth(fx.sim, fx.sim.createAccount().phoneNumber, { preKeys: 30 });
    const client = connectClient(fx.sim, auth);
    fx.clients.push(client);
    expect(await client.settled).toBe('open');
    const forged = { ...auth.creds, signedPreKey: { ...auth.creds.signedPreKey, signature: randomBytes(64) } };
    const { node } = await getNextPreKeysNode({ creds: forged, keys: auth.keys }, 2);
    // Act
    const error = await client.sock.query(node).catch(e => e);
    // Assess
    expect(error).toMatchObject({ data: 406 });
    expect(fx.sim.violations).toEqual([expect.objectContaining({ kind: 'invalid-key-bundle', deviceJid })]);
    expect(preKeysOf(deviceJid)).toBe(30);
  });
});
