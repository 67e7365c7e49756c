import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  chatModificationToAppPatch,
  decodePatches,
  encodeSyncdPatch,
  newLTHashState,
  proto,
  type ChatModification,
  type LTHashState,
} from '@whiskeysockets/baileys';
import {
  encodePatch,
  expandKeys,
  ltHashAdd,
  ltHashSubtract,
  newCollectionState,
  PatchVerificationError,
  verifyPatch,
  type CollectionState,
} from '../../../lib/simulator/app-state-crypto.js';

const NAME = 'regular_low';

/** An account key as Baileys stores it (app-state-sync-key/{base64 id}) and the same key for the verifier. */
const makeKey = () => {
  const id = randomBytes(6);
  const data = randomBytes(32);
  const idB64 = id.toString('base64');
  const store: Record<string, proto.Message.IAppStateSyncKeyData> = { [idB64]: proto.Message.AppStateSyncKeyData.fromObject({ keyData: data, timestamp: 1 }) };
  return {
    id,
    data,
    idB64,
    getAppStateSyncKey: async (keyId: string) => store[keyId],
    lookup: (keyId: Uint8Array) => (Buffer.from(keyId).equals(id) ? data : undefined),
  };
};

/** Baileys' own chatModify encoding: one patch per modification, chained through its LTHashState. */
const baileysPatches = async (key: ReturnType<typeof makeKey>, mods: ChatModification[], jid = '111@s.whatsapp.net') => {
  let state: LTHashState = newLTHashState();
  const patches: { bytes: Uint8Array; patch: proto.ISyncdPatch; state: LTHashState }[] = [];
  for (const mod of mods) {
    const encoded = await encodeSyncdPatch(chatModificationToAppPatch(mod, jid), key.idB64, state, key.getAppStateSyncKey);
    state = encoded.state;
    patches.push({ bytes: proto.SyncdPatch.encode(encoded.patch).finish(), patch: encoded.patch, state });
  }
  return patches;
};

const rejection = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    if (error instanceof PatchVerificationError) return error.kind;
    throw error;
  }
  throw new Error('the patch was accepted');
};

const flip = (bytes: Uint8Array | null | undefined, at: number): Buffer => {
  const copy = Buffer.from(bytes ?? []);
  copy[at] ^= 0x01;
  return copy;
};

describe('app-state crypto (node:crypto, independent of Baileys)', () => {
  it('expands a key into five distinct 32-byte keys', () => {
    // Prepare
    const keyData = randomBytes(32);
    // Act
    const keys = expandKeys(keyData);
    // Assess
    const all = Object.values(keys).map(k => k.toString('hex'));
    expect(all).toHaveLength(5);
    expect(new Set(all).size).toBe(5);
    expect(all.every(k => k.length === 64)).toBe(true);
  });

  it("verifies Baileys' pin/unpin patches byte for byte and chains the LT hash exactly as Baileys does", async () => {
    // Prepare
    const key = makeKey();
    const patches = await baileysPatches(key, [{ pin: true }, { pin: false }, { archive: true, lastMessages: [] }]);
    // Act
    let state: CollectionState = newCollectionState();
    const decoded = patches.map(({ bytes }) => {
      const result = verifyPatch(NAME, bytes, state, key.lookup);
      state = result.state;
      return result;
    });
    // Assess
    expect(state.version).toBe(3);
    expect(state.hash.equals(Buffer.from(patches[2].state.hash))).toBe(true);
    expect(state.indexValueMap.size).toBe(2);
    expect(decoded.map(d => d.mutations[0].index)).toEqual([
      ['pin_v1', '111@s.whatsapp.net'],
      ['pin_v1', '111@s.whatsapp.net'],
      ['archive', '111@s.whatsapp.net'],
    ]);
    expect(decoded.map(d => d.mutations[0].operation)).toEqual(['set', 'set', 'set']);
    expect(decoded[0].mutations[0].value.pinAction?.pinned).toBe(true);
    expect(decoded[1].mutations[0].value.pinAction?.pinned).toBe(false);
    expect(decoded[2].mutations[0].value.archiveChatAction?.archived).toBe(true);
    expect(decoded[0].mutations[0].apiVersion).toBe(5);
    const record = patches[0].patch.mutations![0].record!;
    expect(decoded[0].mutations[0].indexMac.equals(Buffer.from(record.index!.blob!))).toBe(true);
    expect(decoded[0].mutations[0].valueMac.equals(Buffer.from(record.value!.blob!).subarray(-32))).toBe(true);
  });

  it('rejects a patch with one flipped byte in the value blob', async () => {
    // Prepare
    const key = makeKey();
    const [{ patch }] = await baileysPatches(key, [{ pin: true }]);
    patch.mutations![0].record!.value!.blob = flip(patch.mutations![0].record!.value!.blob, 20);
    const bytes = proto.SyncdPatch.encode(patch).finish();
    // Act
    const kind = rejection(() => verifyPatch(NAME, bytes, newCollectionState(), key.lookup));
    // Assess
    expect(kind).toBe('value-mac');
  });

  it('rejects a patch chained from a different LT hash than the collection has', async () => {
    // Prepare
    const key = makeKey();
    const [first, second] = await baileysPatches(key, [{ pin: true }, { pin: false }]);
    const verified = verifyPatch(NAME, first.bytes, newCollectionState(), key.lookup).state;
    const wrongHash = { ...verified, hash: flip(verified.hash, 7) };
    // Act
    const kind = rejection(() => verifyPatch(NAME, second.bytes, wrongHash, key.lookup));
    // Assess
    expect(kind).toBe('snapshot-mac');
    expect(verifyPatch(NAME, second.bytes, verified, key.lookup).state.version).toBe(2);
  });

  it('rejects a forged snapshotMac, a forged patchMac, an index swapped from another patch, an unknown key and a wrong version', async () => {
    // Prepare
    const key = makeKey();
    const [{ patch }] = await baileysPatches(key, [{ pin: true }]);
    const [{ patch: other }] = await baileysPatches(key, [{ pin: true }], '222@s.whatsapp.net');
    const variant = (change: (p: proto.ISyncdPatch) => void): Uint8Array => {
      const copy = proto.SyncdPatch.decode(proto.SyncdPatch.encode(patch).finish());
      change(copy);
      return proto.SyncdPatch.encode(copy).finish();
    };
    const forgedSnapshot = variant(p => (p.snapshotMac = flip(p.snapshotMac, 0)));
    const forgedPatchMac = variant(p => (p.patchMac = flip(p.patchMac, 31)));
    const swappedIndex = variant(p => (p.mutations![0].record!.index = other.mutations![0].record!.index));
    const wrongVersion = variant(p => (p.version = { version: 5 }));
    // Act
    const kinds = [forgedSnapshot, forgedPatchMac, swappedIndex, wrongVersion].map(bytes => rejection(() => verifyPatch(NAME, bytes, newCollectionState(), key.lookup)));
    const unknownKey = rejection(() => verifyPatch(NAME, proto.SyncdPatch.encode(patch).finish(), newCollectionState(), () => undefined));
    // Assess
    expect(kinds).toEqual(['snapshot-mac', 'patch-mac', 'index-mac', 'wrong-version']);
    expect(unknownKey).toBe('unknown-key');
  });

  it('encodes patches that Baileys decodes with MAC verification on, including a REMOVE', async () => {
    // Prepare
    const key = makeKey();
    const jid = '333@s.whatsapp.net';
    const first = encodePatch(NAME, [{ operation: 'set', index: ['pin_v1', jid], value: { pinAction: { pinned: true }, timestamp: 1234 }, apiVersion: 5 }], newCollectionState(), key);
    const second = encodePatch(NAME, [{ operation: 'remove', index: ['pin_v1', jid], value: {}, apiVersion: 5 }], first.state, key);
    const warnings: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warnings.push(args), trace: () => {}, debug: () => {}, info: () => {}, error: () => {}, child: () => logger, level: 'warn' };
    // Act
    const afterFirst = await decodePatches(NAME, [proto.SyncdPatch.decode(first.patch)], newLTHashState(), key.getAppStateSyncKey, {}, undefined, logger, true);
    const afterSecond = await decodePatches(NAME, [proto.SyncdPatch.decode(second.patch)], afterFirst.state, key.getAppStateSyncKey, {}, undefined, logger, true);
    // Assess
    expect(warnings).toEqual([]);
    expect(afterFirst.state.version).toBe(1);
    expect(Buffer.from(afterFirst.state.hash).equals(first.state.hash)).toBe(true);
    const mutation = afterFirst.mutationMap[JSON.stringify(['pin_v1', jid])];
    expect(mutation.syncAction.value?.pinAction?.pinned).toBe(true);
    expect(Number(mutation.syncAction.value?.timestamp)).toBe(1234);
    expect(afterSecond.state.version).toBe(2);
    expect(Buffer.from(afterSecond.state.hash).equals(Buffer.alloc(128))).toBe(true);
    expect(second.state.hash.equals(Buffer.alloc(128))).toBe(true);
    expect(verifyPatch(NAME, second.patch, first.state, key.lookup).mutations[0].operation).toBe('remove');
  });

  it('LT hash subtraction undoes addition lane by lane, in any order', () => {
    // Prepare
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const start = randomBytes(128);
    // Act
    const ab = ltHashAdd(ltHashAdd(start, a), b);
    const ba = ltHashAdd(ltHashAdd(start, b), a);
    const back = ltHashSubtract(ltHashSubtract(ab, a), b);
    // Assess
    expect(ab.equals(ba)).toBe(true);
    expect(ab.equals(start)).toBe(false);
    expect(back.equals(start)).toBe(true);
  });
});
