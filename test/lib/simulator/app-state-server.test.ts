import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  chatModificationToAppPatch,
  decodePatches,
  decodeSyncdSnapshot,
  encodeSyncdPatch,
  extractSyncdPatches,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  newLTHashState,
  proto,
  type BinaryNode,
  type ChatModification,
  type LTHashState,
  type WAPatchName,
} from '@whiskeysockets/baileys';
import { AppStateServer } from '../../../lib/simulator/app-state-server.js';
import { MediaHost } from '../../../lib/simulator/media-host.js';

const LOW: WAPatchName = 'regular_low';

const makeKey = () => ({ id: randomBytes(6), data: randomBytes(32) });

/**
 * A linked device doing what Baileys' resyncAppState/appPatch do (Socket/chats.js), with Baileys' own
 * encodeSyncdPatch/extractSyncdPatches/decodePatches over an in-memory key store, talking to the server
 * through the <sync> nodes only.
 */
class BaileysDevice {
  readonly warnings: unknown[] = [];
  readonly keys: {
    'app-state-sync-key': Record<string, proto.Message.IAppStateSyncKeyData>;
    'app-state-sync-version': Partial<Record<WAPatchName, LTHashState>>;
  };
  readonly myAppStateKeyId: string;
  private readonly logger = {
    level: 'warn',
    warn: (...args: unknown[]) => this.warnings.push(args),
    trace: () => {},
    debug: () => {},
    info: () => {},
    error: (...args: unknown[]) => this.warnings.push(args),
    child: () => this.logger,
  };

  constructor(
    private readonly server: AppStateServer,
    readonly jid: string,
    key: { id: Uint8Array; data: Uint8Array },
  ) {
    this.myAppStateKeyId = Buffer.from(key.id).toString('base64');
    this.keys = {
      'app-state-sync-key': { [this.myAppStateKeyId]: proto.Message.AppStateSyncKeyData.fromObject({ keyData: key.data, timestamp: 1 }) },
      'app-state-sync-version': {},
    };
  }

  state(name: WAPatchName = LOW): LTHashState {
    return this.keys['app-state-sync-version'][name] ?? newLTHashState();
  }

  private getAppStateSyncKey = async (id: string) => this.keys['app-state-sync-key'][id];

  /** Applies the <patches> of a <sync> answer as Baileys does; returns the decoded mutations. */
  async apply(sync: BinaryNode, name: WAPatchName = LOW) {
    const { patches, hasMorePatches } = (await extractSyncdPatches({ tag: 'iq', attrs: {}, content: [sync] }, {}))[name];
    const { state, mutationMap } = await decodePatches(name, patches, this.state(name), this.getAppStateSyncKey, {}, undefined, this.logger, true);
    this.keys['app-state-sync-version'][name] = state;
    return { hasMorePatches, mutationMap, count: patches.length };
  }

  /** resyncAppState([name]): one IQ per page until has_more_patches is gone; returns the number of IQs. */
  async resync(name: WAPatchName = LOW): Promise<number> {
    for (let iqs = 1; ; iqs++) {
      const { version } = this.state(name);
      const collection = { tag: 'collection', attrs: { name, version: String(version), return_snapshot: String(!version) } };
      const { hasMorePatches } = await this.apply(await this.server.handleSync({ tag: 'sync', attrs: {}, content: [collection] }, this.jid), name);
      if (!hasMorePatches) return iqs;
    }
  }

  /** encodeSyncdPatch on the stored state, as appPatch does after its resync. */
  async encode(mod: ChatModification, chatJid: string, tamper?: (patch: proto.ISyncdPatch) => void) {
    const create = chatModificationToAppPatch(mod, chatJid);
    const { patch, state } = await encodeSyncdPatch(create, this.myAppStateKeyId, this.state(create.type), this.getAppStateSyncKey);
    tamper?.(patch);
    const collection: BinaryNode = {
      tag: 'collection',
      attrs: { name: create.type, version: String(state.version - 1), return_snapshot: 'false' },
      content: [{ tag: 'patch', attrs: {}, content: proto.SyncdPatch.encode(patch).finish() }],
    };
    return { collection, state, patch, name: create.type };
  }

  /** appPatch: resync, encode, upload; keeps the new state only when the server accepted it (our API's rule). */
  async modify(mod: ChatModification, chatJid: string): Promise<BinaryNode> {
    await this.resync(LOW);
    const { collection, state, name } = await this.encode(mod, chatJid);
    const answer = only(await this.server.handleSync({ tag: 'sync', attrs: {}, content: [collection] }, this.jid));
    if (answer.attrs.type !== 'error') this.keys['app-state-sync-version'][name] = state;
    return answer;
  }
}

const children = (node: BinaryNode): BinaryNode[] => (Array.isArray(node.content) ? node.content : []);
const only = (sync: BinaryNode): BinaryNode => {
  expect(children(sync)).toHaveLength(1);
  return children(sync)[0];
};
const upload = async (server: AppStateServer, device: BaileysDevice, collection: BinaryNode) =>
  only(await server.handleSync({ tag: 'sync', attrs: {}, content: [collection] }, device.jid));

const setup = (options?: ConstructorParameters<typeof AppStateServer>[0]) => {
  const key = makeKey();
  const server = new AppStateServer(options);
  server.addKey(key.id, key.data, 1000);
  const device = new BaileysDevice(server, '5511999990000:3@s.whatsapp.net', key);
  return { key, server, device };
};

const CHAT = '5511888880000@s.whatsapp.net';

describe('AppStateServer', () => {
  it("accepts Baileys' pin and unpin patches and keeps the decoded chat state", async () => {
    // Prepare
    const { server, device } = setup();
    const before = Date.now();
    // Act
    const pinned = await device.modify({ pin: true }, CHAT);
    const afterPin = server.chatState(CHAT);
    const unpinned = await device.modify({ pin: false }, CHAT);
    // Assess
    expect(pinned).toEqual({ tag: 'collection', attrs: { name: LOW, version: '1' } });
    expect(afterPin).toEqual({ pinned: true, pinnedAt: expect.any(Number), byDevice: device.jid });
    expect(afterPin!.pinnedAt).toBeGreaterThanOrEqual(before);
    expect(unpinned).toEqual({ tag: 'collection', attrs: { name: LOW, version: '2' } });
    expect(server.chatState(CHAT)).toEqual({ pinned: false, pinnedAt: undefined, byDevice: device.jid });
    expect(server.version(LOW)).toBe(2);
    expect(server.violations).toEqual([]);
    expect(device.warnings).toEqual([]);
  });

  it('rejects a patch with one flipped byte in the value blob and records a violation', async () => {
    // Prepare
    const { server, device } = setup();
    const { collection } = await device.encode({ pin: true }, CHAT, patch => {
      patch.mutations![0].record!.value!.blob![24] ^= 0x01;
    });
    // Act
    const answer = await upload(server, device, collection);
    // Assess
    expect(answer).toEqual({
      tag: 'collection',
      attrs: { name: LOW, type: 'error', version: '0' },
      content: [{ tag: 'error', attrs: { code: '400', text: 'bad-request' } }],
    });
    expect(server.violations).toEqual([{ at: expect.any(Number), deviceJid: device.jid, kind: 'value-mac', detail: expect.stringContaining('valueMac') }]);
    expect(server.version(LOW)).toBe(0);
    expect(server.chatState(CHAT)).toBeUndefined();
  });

  it('rejects a patch whose LT hash does not chain from the stored state', async () => {
    // Prepare
    const { server, device } = setup();
    await device.modify({ pin: true }, CHAT);
    const state = device.state();
    device.keys['app-state-sync-version'][LOW] = { ...state, hash: Buffer.from(state.hash).fill(7, 0, 2) };
    const { collection } = await device.encode({ pin: false }, CHAT);
    // Act
    const answer = await upload(server, device, collection);
    // Assess
    expect(answer.attrs).toEqual({ name: LOW, type: 'error', version: '1' });
    expect(server.violations.map(v => v.kind)).toEqual(['snapshot-mac']);
    expect(server.version(LOW)).toBe(1);
    expect(server.chatState(CHAT)?.pinned).toBe(true);
  });

  it('rejects a patch encrypted with a key the account does not have', async () => {
    // Prepare
    const { server } = setup();
    const stranger = new BaileysDevice(server, '5511777770000:2@s.whatsapp.net', makeKey());
    const { collection } = await stranger.encode({ pin: true }, CHAT);
    // Act
    const answer = await upload(server, stranger, collection);
    // Assess
    expect(answer.attrs.type).toBe('error');
    expect(server.violations).toEqual([expect.objectContaining({ deviceJid: stranger.jid, kind: 'unknown-key' })]);
  });

  it('answers a patch built on a stale version with 409 and the missing patches, which Baileys applies before retrying', async () => {
    // Prepare
    const { server, device } = setup();
    await device.modify({ pin: true }, CHAT);
    server.phoneMutate({ action: 'pin', chatJid: CHAT, value: false });
    server.phoneMutate({ action: 'archive', chatJid: CHAT, value: true });
    const { collection } = await device.encode({ pin: true }, '5511666660000@s.whatsapp.net');
    // Act
    const conflict = await upload(server, device, collection);
    const applied = await device.apply({ tag: 'sync', attrs: {}, content: [conflict] });
    const versionAfterApply = device.state().version;
    const retried = await device.modify({ pin: true }, '5511666660000@s.whatsapp.net');
    // Assess
    expect(conflict.attrs).toEqual({ name: LOW, type: 'error', version: '3' });
    expect(getBinaryNodeChild(conflict, 'error')?.attrs).toEqual({ code: '409', text: 'conflict' });
    expect(getBinaryNodeChildren(getBinaryNodeChild(conflict, 'patches'), 'patch')).toHaveLength(2);
    expect(applied.count).toBe(2);
    expect(versionAfterApply).toBe(3);
    expect(applied.mutationMap[JSON.stringify(['pin_v1', CHAT])].syncAction.value?.pinAction?.pinned).toBe(false);
    expect(retried.attrs).toEqual({ name: LOW, version: '4' });
    expect(server.chatState(CHAT)).toEqual({ pinned: false, pinnedAt: undefined, byDevice: 'phone', archived: true });
    expect(server.chatState('5511666660000@s.whatsapp.net')?.byDevice).toBe(device.jid);
    expect(server.violations).toEqual([]);
    expect(device.warnings).toEqual([]);
  });

  it('runs the beforeNextUpload hook once, before checking the next upload, so a phone change makes it stale', async () => {
    // Prepare
    const { server, device } = setup();
    let runs = 0;
    server.beforeNextUpload(async () => {
      runs++;
      server.phoneMutate({ action: 'pin', chatJid: CHAT, value: true });
    });
    // Act
    const first = await device.modify({ pin: true }, CHAT);
    const second = await device.modify({ pin: true }, CHAT);
    // Assess
    expect(runs).toBe(1);
    expect(getBinaryNodeChild(first, 'error')?.attrs.code).toBe('409');
    expect(second.attrs).toEqual({ name: LOW, version: '2' });
    expect(server.chatState(CHAT)?.byDevice).toBe(device.jid);
  });

  it("chains phone and device patches so that a fresh device's Baileys resync reproduces the same LT hash", async () => {
    // Prepare
    const { key, server, device } = setup({ now: () => 1_700_000_000_000, phoneJid: '5511999990000:0@s.whatsapp.net' });
    server.phoneMutate({ action: 'pin', chatJid: CHAT, value: true });
    await device.modify({ pin: false }, CHAT);
    server.phoneMutate({ action: 'pin', chatJid: CHAT, value: true });
    await device.modify({ archive: true, lastMessages: [] }, CHAT);
    const fresh = new BaileysDevice(server, '5511999990000:9@s.whatsapp.net', key);
    // Act
    await fresh.resync(LOW);
    // Assess
    expect(server.version(LOW)).toBe(4);
    expect(fresh.state().version).toBe(4);
    expect(Buffer.from(fresh.state().hash).equals(Buffer.from(device.state().hash))).toBe(true);
    expect(Object.keys(fresh.state().indexValueMap)).toHaveLength(2);
    expect(server.chatState(CHAT)).toEqual({ pinned: true, pinnedAt: 1_700_000_000_000, byDevice: '5511999990000:0@s.whatsapp.net', archived: true });
    expect(fresh.warnings).toEqual([]);
    expect(device.warnings).toEqual([]);
  });

  it('pages a long resync with has_more_patches and Baileys follows the pages to the end', async () => {
    // Prepare
    const { server, device } = setup({ pageSize: 3 });
    for (let i = 0; i < 7; i++) server.phoneMutate({ action: 'pin', chatJid: `55110000000${i}@s.whatsapp.net`, value: true });
    // Act
    const firstPage = only(await server.handleSync({ tag: 'sync', attrs: {}, content: [{ tag: 'collection', attrs: { name: LOW, version: '0', return_snapshot: 'true' } }] }, device.jid));
    const iqs = await device.resync(LOW);
    const upToDate = only(await server.handleSync({ tag: 'sync', attrs: {}, content: [{ tag: 'collection', attrs: { name: LOW, version: '7' } }] }, device.jid));
    // Assess
    expect(firstPage.attrs).toEqual({ name: LOW, version: '7', has_more_patches: 'true' });
    const versions = getBinaryNodeChildren(getBinaryNodeChild(firstPage, 'patches'), 'patch').map(p => Number(proto.SyncdPatch.decode(p.content as Uint8Array).version?.version));
    expect(versions).toEqual([1, 2, 3]);
    expect(iqs).toBe(3);
    expect(device.state().version).toBe(7);
    expect(Object.keys(device.state().indexValueMap)).toHaveLength(7);
    expect(upToDate).toEqual({ tag: 'collection', attrs: { name: LOW, version: '7' }, content: [] });
    expect(device.warnings).toEqual([]);
  });

  it('answers each collection of a multi-collection <sync>, including an unknown one', async () => {
    // Prepare
    const { server, device } = setup();
    server.phoneMutate({ action: 'pin', chatJid: CHAT, value: true });
    await device.resync(LOW);
    const { collection } = await device.encode({ mute: 1_800_000_000_000 }, CHAT);
    const sync: BinaryNode = {
      tag: 'sync',
      attrs: {},
      content: [collection, { tag: 'collection', attrs: { name: LOW, version: '0', return_snapshot: 'true' } }, { tag: 'collection', attrs: { name: 'bogus', version: '0' } }],
    };
    // Act
    const answers = children(await server.handleSync(sync, device.jid));
    // Assess
    expect(answers.map(a => a.attrs)).toEqual([
      { name: 'regular_high', version: '1' },
      { name: LOW, version: '1' },
      { name: 'bogus', type: 'error', version: '0' },
    ]);
    expect(server.version('regular_high')).toBe(1);
    expect(getBinaryNodeChildren(getBinaryNodeChild(answers[1], 'patches'), 'patch')).toHaveLength(1);
    expect(server.violations.map(v => v.kind)).toEqual(['unknown-collection']);
  });

  it('serializes concurrent uploads on the same base: one is accepted, the other gets 409', async () => {
    // Prepare
    const { server, device } = setup();
    const other = new BaileysDevice(server, '5511999990000:4@s.whatsapp.net', { id: Buffer.from(device.myAppStateKeyId, 'base64'), data: Buffer.from(device.keys['app-state-sync-key'][device.myAppStateKeyId].keyData!) });
    server.beforeNextUpload(() => new Promise(resolve => setTimeout(resolve, 20)));
    const a = await device.encode({ pin: true }, CHAT);
    const b = await other.encode({ pin: true }, '5511555550000@s.whatsapp.net');
    // Act
    const [answerA, answerB] = await Promise.all([upload(server, device, a.collection), upload(server, other, b.collection)]);
    // Assess
    expect(answerA.attrs).toEqual({ name: LOW, version: '1' });
    expect(getBinaryNodeChild(answerB, 'error')?.attrs.code).toBe('409');
    expect(server.version(LOW)).toBe(1);
  });

  it('refuses phone mutations while the account has no app-state key', () => {
    // Prepare
    const server = new AppStateServer();
    // Act
    const act = () => server.phoneMutate({ action: 'pin', chatJid: CHAT, value: true });
    // Assess
    expect(act).toThrow('no app-state sync key');
    expect(server.version(LOW)).toBe(0);
  });

  describe('after a compaction', () => {
    const compacted = (pageSize = 3) => {
      const media = new MediaHost();
      const { key, server, device } = setup({ pageSize, media });
      for (let i = 0; i < 4; i++) server.phoneMutate({ action: 'pin', chatJid: `55110000000${i}@s.whatsapp.net`, value: i % 2 === 0 });
      server.compact();
      for (let i = 0; i < 5; i++) server.phoneMutate({ action: 'markRead', chatJid: `55110000000${i}@s.whatsapp.net`, value: true });
      return { key, server, device, media };
    };
    const ask = async (server: AppStateServer, attrs: Record<string, string>) =>
      only(await server.handleSync({ tag: 'sync', attrs: {}, content: [{ tag: 'collection', attrs: { name: LOW, ...attrs } }] }, '5511999990000:3@s.whatsapp.net'));
    const versionsOf = (answer: BinaryNode) =>
      getBinaryNodeChildren(getBinaryNodeChild(answer, 'patches'), 'patch').map(p => Number(proto.SyncdPatch.decode(p.content as Uint8Array).version?.version));

    it('answers a full sync with the snapshot reference and the first page of patches after it, then pages on from the last applied version', async () => {
      // Prepare
      const { server, media } = compacted();
      // Act
      const first = await ask(server, { version: '0', return_snapshot: 'true' });
      const second = await ask(server, { version: '7' });
      const withoutFlag = await ask(server, { version: '0' });
      const behind = await ask(server, { version: '2' });
      // Assess
      expect(first.attrs).toEqual({ name: LOW, version: '9', has_more_patches: 'true' });
      expect(children(first).map(c => c.tag)).toEqual(['snapshot', 'patches']);
      const ref = proto.ExternalBlobReference.decode(getBinaryNodeChild(first, 'snapshot')!.content as Uint8Array);
      expect(Number(proto.SyncdSnapshot.decode(media.read(ref)!).version?.version)).toBe(4);
      expect(versionsOf(first)).toEqual([5, 6, 7]);
      expect(second.attrs).toEqual({ name: LOW, version: '9' });
      expect(versionsOf(second)).toEqual([8, 9]);
      expect(children(withoutFlag).map(c => c.tag)).toEqual(['snapshot', 'patches']);
      expect(children(behind).map(c => c.tag)).toEqual(['snapshot', 'patches']);
      expect(server.violations).toEqual([]);
    });

    it('lets a Baileys device restore the snapshot and follow the pages to the server LT hash', async () => {
      // Prepare
      const { server, media } = compacted();
      const device = new BaileysDevice(server, '5511999990000:5@s.whatsapp.net', { id: server.newestKey().id, data: server.newestKey().data });
      // Act
      let answer = await ask(server, { version: '0', return_snapshot: 'true' });
      const ref = proto.ExternalBlobReference.decode(getBinaryNodeChild(answer, 'snapshot')!.content as Uint8Array);
      const snapshot = proto.SyncdSnapshot.decode(media.read(ref)!);
      const restored = await decodeSyncdSnapshot(LOW, snapshot, async id => device.keys['app-state-sync-key'][id], undefined, true);
      device.keys['app-state-sync-version'][LOW] = restored.state;
      for (;;) {
        const { hasMorePatches } = await device.apply({ tag: 'sync', attrs: {}, content: [{ ...answer, content: children(answer).filter(c => c.tag !== 'snapshot') }] });
        if (!hasMorePatches) break;
        answer = await ask(server, { version: String(device.state().version) });
      }
      // Assess
      expect(device.state().version).toBe(9);
      expect(Buffer.from(device.state().hash).equals(server.collectionState().hash)).toBe(true);
      expect(device.warnings).toEqual([]);
    });

    it('answers an upload on a base older than the snapshot with 409, the snapshot and the patches after it', async () => {
      // Prepare
      const { server } = compacted(50);
      const stale = setup().device; // its own state at v0
      const { collection } = await stale.encode({ pin: true }, CHAT);
      collection.attrs.version = '1';
      // Act
      const answer = only(await server.handleSync({ tag: 'sync', attrs: {}, content: [collection] }, stale.jid));
      // Assess
      expect(answer.attrs).toEqual({ name: LOW, type: 'error', version: '9' });
      expect(children(answer).map(c => c.tag)).toEqual(['error', 'snapshot', 'patches']);
      expect(getBinaryNodeChild(answer, 'error')?.attrs.code).toBe('409');
      expect(versionsOf(answer)).toEqual([5, 6, 7, 8, 9]);
    });
  });
});
