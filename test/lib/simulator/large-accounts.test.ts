import { describe, expect, it } from '@jest/globals';
import {
  decodePatches,
  decodeSyncdSnapshot,
  extractSyncdPatches,
  newLTHashState,
  proto,
  type BinaryNode,
  type LTHashState,
  type WASocket,
} from '@whiskeysockets/baileys';
import { verifySnapshot } from '../../../lib/simulator/app-state-crypto.js';
import { connectClient, linkedAuth, mediaHostFetchOptions, quiesce, simulatorPerTest, type MemoryAuth } from './baileys-client.js';

const LOW = 'regular_low';

/** A pino-like logger that keeps Baileys' warnings (an LT hash mismatch is only a warning there). */
const warningLogger = () => {
  const warnings: unknown[] = [];
  const logger = {
    level: 'warn', trace() {}, debug() {}, info() {},
    warn: (...args: unknown[]) => void warnings.push(args),
    error: (...args: unknown[]) => void warnings.push(args),
    child: () => logger,
  };
  return { logger, warnings };
};

const syncIq = (version: number): BinaryNode => ({
  tag: 'iq',
  attrs: { to: '@s.whatsapp.net', xmlns: 'w:sync:app:state', type: 'set' },
  content: [{ tag: 'sync', attrs: {}, content: [{ tag: 'collection', attrs: { name: LOW, version: String(version), return_snapshot: String(!version) } }] }],
});

/**
 * What Baileys' resyncAppState does, step by step over the device's own connection, with MAC validation on:
 * sync IQ → extractSyncdPatches (snapshot downloaded from the media host) → decodeSyncdSnapshot → decodePatches,
 * repeated while has_more_patches.
 */
async function fullSync(sock: WASocket, auth: MemoryAuth, fetchOptions: RequestInit) {
  const { logger, warnings } = warningLogger();
  const getKey = async (id: string) => auth.data.get(`app-state-sync-key/${id}`) as proto.Message.IAppStateSyncKeyData | undefined;
  let state: LTHashState = newLTHashState();
  const snapshotKeyIds: string[] = [];
  const patchKeyIds = new Set<string>();
  const mutations: Record<string, { action: proto.ISyncActionValue | null | undefined }> = {};
  let iqs = 0;
  for (let more = true; more; iqs++) {
    const answer = await sock.query(syncIq(state.version));
    const { patches, hasMorePatches, snapshot } = (await extractSyncdPatches(answer, fetchOptions))[LOW];
    if (snapshot) {
      snapshotKeyIds.push(Buffer.from(snapshot.keyId!.id!).toString('base64'));
      const decoded = await decodeSyncdSnapshot(LOW, snapshot, getKey, undefined, true, logger as never);
      state = decoded.state;
      for (const [index, m] of Object.entries(decoded.mutationMap)) mutations[index] = { action: m.syncAction.value };
    }
    for (const patch of patches) patchKeyIds.add(Buffer.from(patch.keyId!.id!).toString('base64'));
    if (patches.length) {
      const decoded = await decodePatches(LOW, patches, state, getKey, fetchOptions, undefined, logger as never, true);
      state = decoded.state;
      for (const [index, m] of Object.entries(decoded.mutationMap)) mutations[index] = { action: m.syncAction.value };
    }
    more = hasMorePatches;
  }
  return { state, warnings, snapshotKeyIds, patchKeyIds: [...patchKeyIds], mutations, iqs };
}

describe('simulator large accounts: snapshots, key rotation, external mutations, the pin limit', () => {
  const fx = simulatorPerTest();

  const openDevice = async (phoneNumber: string, socket?: NonNullable<Parameters<typeof connectClient>[2]>['socket']) => {
    const linked = await linkedAuth(fx.sim, phoneNumber);
    const client = connectClient(fx.sim, linked.auth, { socket });
    fx.clients.push(client);
    expect(await client.settled).toBe('open');
    return { ...linked, client, sock: client.sock };
  };

  it('brings a Baileys client syncing a seeded 2,000-entry account from v0 to the server version and LT hash, the snapshot under the old key, the patches under the new one', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const pinned = ['15551110001@s.whatsapp.net', '15551110002@s.whatsapp.net'];
    const seeded = await fx.sim.seedAppState(phoneNumber, { entries: 2_000, pinned, laterPinned: ['15551110003@s.whatsapp.net'] });
    const { sock, auth } = await openDevice(phoneNumber);
    const fetchOptions = mediaHostFetchOptions(fx.sim);
    // Act
    const synced = await fullSync(sock, auth, fetchOptions);
    // Assess
    const server = fx.sim.appStateInfo(phoneNumber);
    expect(synced.warnings).toEqual([]);
    expect(synced.state.version).toBe(server.version);
    expect(server.version).toBe(seeded.snapshotVersion + 20);
    expect(Buffer.from(synced.state.hash).equals(server.hash)).toBe(true);
    expect(Object.keys(synced.state.indexValueMap)).toHaveLength(server.entries);
    expect(server.entries).toBeGreaterThanOrEqual(2_000);
    expect(synced.snapshotKeyIds).toEqual([seeded.snapshotKeyId]);
    expect(synced.patchKeyIds).toEqual([seeded.currentKeyId]);
    expect(seeded.currentKeyId).not.toBe(seeded.snapshotKeyId);
    expect(synced.mutations[JSON.stringify(['pin_v1', pinned[0]])].action?.pinAction?.pinned).toBe(true);
    expect(fx.sim.pinnedChats(phoneNumber).map(p => p.chatJid)).toEqual([...pinned, '15551110003@s.whatsapp.net']);
    expect(seeded.chats.filter(jid => fx.sim.chatState(phoneNumber, jid) === undefined)).toEqual([]);
    expect(fx.sim.chatState(phoneNumber, pinned[1])).toEqual({ pinned: true, pinnedAt: expect.any(Number), byDevice: `${phoneNumber}:0@s.whatsapp.net` });
    expect(fx.sim.violations).toEqual([]);
  });

  it("lets a plain Baileys socket's own resync (MAC verification on, media host via fetch options) restore the snapshot and the pages after it", async () => {
    // Prepare
    await fx.sim.stop();
    const { startSimulator } = await import('../../../lib/simulator/index.js');
    fx.sim = await startSimulator({ appStatePageSize: 4 });
    const { phoneNumber } = fx.sim.createAccount();
    await fx.sim.seedAppState(phoneNumber, { entries: 300, pinned: ['15551110001@s.whatsapp.net'], laterPatches: 10 });
    const options = mediaHostFetchOptions(fx.sim);
    const { sock, auth } = await openDevice(phoneNumber, { options, appStateMacVerification: { patch: true, snapshot: true } });
    // Act
    await sock.resyncAppState([LOW], true);
    await quiesce(fx.sim);
    // Assess
    const stored = auth.data.get(`app-state-sync-version/${LOW}`) as LTHashState;
    const server = fx.sim.appStateInfo(phoneNumber);
    const syncs = fx.sim.record.filter(r => r.direction === 'in' && r.xmlns === 'w:sync:app:state');
    expect(stored.version).toBe(server.version);
    expect(Buffer.from(stored.hash).equals(server.hash)).toBe(true);
    expect(syncs).toHaveLength(3); // the snapshot + patches 34–37, then 38–41, then 42–43
    expect(fx.sim.mediaRequests.filter(r => r.status === 200)).toHaveLength(1);
  });

  it('serves the snapshot to a v0 request without return_snapshot on a compacted history, and the snapshot verifies independently', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const phone = fx.sim.phone(phoneNumber);
    await phone.setPinned('15551110001@s.whatsapp.net', true);
    await phone.setArchived('15551110002@s.whatsapp.net', true);
    const compacted = await phone.compact();
    await phone.setPinned('15551110003@s.whatsapp.net', true);
    const { sock, auth } = await openDevice(phoneNumber);
    const request = syncIq(0);
    ((request.content as BinaryNode[])[0].content as BinaryNode[])[0].attrs = { name: LOW, version: '0' };
    // Act
    const answer = await sock.query(request);
    const collection = ((answer.content as BinaryNode[])[0].content as BinaryNode[])[0];
    const ref = proto.ExternalBlobReference.decode((collection.content as BinaryNode[])[0].content as Uint8Array);
    const file = Buffer.from(await (await fetch(`${fx.sim.mediaUrl}${ref.directPath}`)).arrayBuffer());
    const { decryptMediaBlob } = await import('../../../lib/simulator/media-host.js');
    const keyOf = (id: Uint8Array) => (auth.data.get(`app-state-sync-key/${Buffer.from(id).toString('base64')}`) as proto.Message.IAppStateSyncKeyData | undefined)?.keyData ?? undefined;
    const verified = verifySnapshot(LOW, decryptMediaBlob(file, ref.mediaKey!), keyOf);
    // Assess
    expect(compacted.version).toBe(2);
    expect(collection.attrs).toEqual({ name: LOW, version: '3' });
    expect((collection.content as BinaryNode[]).map(c => c.tag)).toEqual(['snapshot', 'patches']);
    expect(ref.directPath).toBe(compacted.directPath);
    expect(verified.state.version).toBe(2);
    expect(verified.mutations.map(m => m.index)).toEqual([['pin_v1', '15551110001@s.whatsapp.net'], ['archive', '15551110002@s.whatsapp.net']]);
  });

  it('delivers a key rotation to a device linked before it: Baileys stores every key but takes the last of the share (not the newest) as current, and its upload is flagged', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const linked = await linkedAuth(fx.sim, phoneNumber);
    const oldKeyId = linked.creds.myAppStateKeyId!;
    const rotated = await fx.sim.phone(phoneNumber).rotateAppStateKey();
    // Act
    const client = connectClient(fx.sim, linked.auth);
    fx.clients.push(client);
    expect(await client.settled).toBe('open');
    await quiesce(fx.sim, 300);
    const keys = [...linked.auth.data.entries()].filter(([id]) => id.startsWith('app-state-sync-key/'));
    const newest = keys.map(([id, key]) => ({ id: id.slice('app-state-sync-key/'.length), timestamp: Number((key as proto.Message.IAppStateSyncKeyData).timestamp) })).sort((a, b) => b.timestamp - a.timestamp)[0];
    await client.sock.chatModify({ pin: true }, '15551110001@s.whatsapp.net');
    // Assess
    expect(keys).toHaveLength(2);
    expect(newest.id).toBe(rotated.keyId);
    expect(linked.auth.creds.myAppStateKeyId).toBe(oldKeyId); // Baileys: the LAST key of the share
    expect(fx.sim.offlineQueue(linked.deviceJid)).toEqual(expect.objectContaining({ queued: 0, receipted: 1, receiptTypes: { peer_msg: 1 } }));
    expect(fx.sim.chatState(phoneNumber, '15551110001@s.whatsapp.net')?.pinned).toBe(true);
    expect(fx.sim.violations.map(v => v.kind)).toEqual(['old-app-state-key']);
  });

  it('puts a phone patch of more than 100 mutations in external mutations that Baileys downloads, MAC-checks and decodes', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const chats = Array.from({ length: 150 }, (_, i) => `1555222${String(i).padStart(4, '0')}@s.whatsapp.net`);
    await fx.sim.phone(phoneNumber).mutate(chats.map((chatJid, i) => ({ action: i % 2 ? 'archive' : 'markRead', chatJid, value: true })));
    const { sock, auth } = await openDevice(phoneNumber);
    const fetchOptions = mediaHostFetchOptions(fx.sim);
    // Act
    const answer = await sock.query(syncIq(0));
    const patch = (await extractSyncdPatches(answer, fetchOptions))[LOW].patches[0];
    const shape = { inline: patch.mutations?.length, external: !!patch.externalMutations };
    const synced = await fullSync(sock, auth, fetchOptions);
    // Assess
    expect(shape).toEqual({ inline: 0, external: true });
    expect(synced.warnings).toEqual([]);
    expect(synced.state.version).toBe(1);
    expect(Buffer.from(synced.state.hash).equals(fx.sim.appStateInfo(phoneNumber).hash)).toBe(true);
    expect(Object.keys(synced.mutations)).toHaveLength(150);
    expect(fx.sim.chatState(phoneNumber, chats[1])).toEqual(expect.objectContaining({ archived: true }));
    expect(fx.sim.chatState(phoneNumber, chats[0])).toEqual(expect.objectContaining({ read: true }));
  });

  it("drops the phone's oldest pin shortly after a device pins a 4th chat, and tells the live device with server_sync", async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const [a, b, c, d] = ['15551110001', '15551110002', '15551110003', '15551110004'].map(n => `${n}@s.whatsapp.net`);
    const phone = fx.sim.phone(phoneNumber);
    await phone.mutate([{ action: 'pin', chatJid: a, value: true }]);
    await new Promise(resolve => setTimeout(resolve, 5));
    await phone.mutate([{ action: 'pin', chatJid: b, value: true }, { action: 'pin', chatJid: c, value: true }]);
    const { sock, auth } = await openDevice(phoneNumber);
    // Act
    await sock.chatModify({ pin: true }, d);
    const right = fx.sim.pinnedChats(phoneNumber).map(p => p.chatJid);
    fx.sim.clearRecord();
    await phone.idle();
    await quiesce(fx.sim, 300);
    // Assess
    expect(right).toEqual([a, b, c, d]);
    expect(fx.sim.pinnedChats(phoneNumber).map(p => p.chatJid)).toEqual([b, c, d]);
    expect(fx.sim.chatState(phoneNumber, a)).toEqual(expect.objectContaining({ pinned: false, byDevice: `${phoneNumber}:0@s.whatsapp.net` }));
    expect(fx.sim.record.find(r => r.direction === 'out' && r.tag === 'notification' && r.type === 'server_sync')).toBeDefined();
    expect((auth.data.get(`app-state-sync-version/${LOW}`) as LTHashState).version).toBe(fx.sim.appStateVersion(phoneNumber, LOW));
    expect(fx.sim.appStateVersion(phoneNumber, LOW)).toBe(4);
  });

  it('seeds 10,000 entries (timed in the output) into a snapshot that verifies with node:crypto', async () => {
    // Prepare
    const { phoneNumber } = fx.sim.createAccount();
    const started = performance.now();
    const cpu = process.cpuUsage();
    // Act
    const seeded = await fx.sim.seedAppState(phoneNumber, { entries: 10_000, pinned: ['15551110001@s.whatsapp.net', '15551110002@s.whatsapp.net'] });
    const elapsed = performance.now() - started;
    const { user, system } = process.cpuUsage(cpu);
    const info = fx.sim.appStateInfo(phoneNumber);
    const { keys } = await fx.sim.linkDevice(phoneNumber);
    const ref = proto.ExternalBlobReference.decode(info.snapshot!.reference);
    const file = Buffer.from(await (await fetch(`${fx.sim.mediaUrl}${ref.directPath}`)).arrayBuffer());
    const { decryptMediaBlob } = await import('../../../lib/simulator/media-host.js');
    const verified = verifySnapshot(LOW, decryptMediaBlob(file, ref.mediaKey!), id => keys['app-state-sync-key']?.[Buffer.from(id).toString('base64')]?.keyData ?? undefined);
    // Assess
    console.log(`seedAppState: 10,000 entries in ${elapsed.toFixed(0)} ms wall, ${((user + system) / 1000).toFixed(0)} ms CPU`);
    expect(seeded.chats).toHaveLength(10_000);
    expect(info.snapshot).toEqual({ version: 33, directPath: expect.any(String), keyId: seeded.snapshotKeyId, reference: expect.any(Uint8Array) });
    expect(verified.state.version).toBe(33);
    expect(verified.mutations).toHaveLength(10_000);
    expect(new Set(verified.mutations.map(m => m.index[0]))).toEqual(new Set(['markChatAsRead', 'archive', 'pin_v1']));
    expect(info.entries).toBeGreaterThanOrEqual(10_000);
    expect(fx.sim.pinnedChats(phoneNumber)).toHaveLength(2);
  });
});
