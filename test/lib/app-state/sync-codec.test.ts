import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { proto } from '@whiskeysockets/baileys';
import { mutationKeys } from '../../../lib/app-state/app-state-crypto.js';
import { decodePatch, decodeSnapshot, encodePatch, indexMacOf, type KeyLookup, type MutationInput } from '../../../lib/app-state/sync-codec.js';
import { AppStateKeyMissingError, AppStateVerificationError } from '../../../lib/errors.js';
// The simulator's node:crypto implementation of the recipe: an independent check of ours (Baileys' primitives).
import * as sim from '../../../lib/simulator/app-state-crypto.js';

const NAME = 'regular_low';
const key = { id: randomBytes(6), data: randomBytes(32) };
const older = { id: randomBytes(6), data: randomBytes(32) };
const byId = new Map([key, older].map((k) => [Buffer.from(k.id).toString('base64'), k]));
const lookup: KeyLookup = (id) => {
  const found = byId.get(Buffer.from(id).toString('base64'));
  if (!found) throw new AppStateKeyMissingError('device', Buffer.from(id).toString('base64'));
  return mutationKeys(found.data);
};
const ours = { id: key.id, keys: mutationKeys(key.data) };
const pin = (chat: string, pinned: boolean, at = 1_000): MutationInput => ({ operation: 'set', index: ['pin_v1', chat], value: { pinAction: { pinned }, timestamp: at }, apiVersion: 5 });
const base = (state: sim.CollectionState) => ({ version: state.version, hash: state.hash });
const valueOf = (state: sim.CollectionState) => (mac: string) => state.indexValueMap.get(mac) ?? null;

describe('sync codec (Baileys primitives) against the simulator\'s independent implementation', () => {
  it('our patch of several mutations verifies on the server side, overwrite of an existing entry included', () => {
    // Prepare: the server already holds chat a (pinned by the phone)
    const first = sim.encodePatch(NAME, [{ ...pin('a@s.whatsapp.net', true), operation: 'set' }], sim.newCollectionState(), key);
    // Act: unpin a, pin b, in one patch on v1
    const { patch, update } = encodePatch(NAME, base(first.state), valueOf(first.state), [pin('a@s.whatsapp.net', false), pin('b@s.whatsapp.net', true)], ours);
    const verified = sim.verifyPatch(NAME, proto.SyncdPatch.encode(patch).finish(), first.state, (id) => byId.get(Buffer.from(id).toString('base64'))?.data);
    // Assess
    expect(update.version).toBe(2);
    expect(update.hash.equals(verified.state.hash)).toBe(true);
    expect(verified.mutations.map((m) => [m.index, m.value.pinAction?.pinned])).toEqual([
      [['pin_v1', 'a@s.whatsapp.net'], false],
      [['pin_v1', 'b@s.whatsapp.net'], true],
    ]);
    expect(update.mutations[0]!.indexMac).toBe(indexMacOf(['pin_v1', 'a@s.whatsapp.net'], ours.keys.indexKey));
  });

  it('decodes the server\'s patches under two key generations and reaches the same LT hash', () => {
    // Prepare: v1 under the older key, v2 under the newer one touching the same chat (another index MAC)
    const v1 = sim.encodePatch(NAME, [pin('a@s.whatsapp.net', true), { operation: 'set', index: ['archive', 'c@s.whatsapp.net'], value: { archiveChatAction: { archived: true } }, apiVersion: 3 }], sim.newCollectionState(), older);
    const v2 = sim.encodePatch(NAME, [pin('a@s.whatsapp.net', false, 2_000)], v1.state, key);
    const p1 = proto.SyncdPatch.decode(v1.patch);
    const p2 = proto.SyncdPatch.decode(v2.patch);
    // Act
    const empty = sim.newCollectionState();
    const u1 = decodePatch(NAME, p1, base(empty), () => null, lookup);
    const entries = new Map(u1.mutations.map((m) => [m.indexMac, m.valueMac]));
    const u2 = decodePatch(NAME, p2, u1, (mac) => entries.get(mac) ?? null, lookup);
    // Assess
    expect(u2.hash.equals(v2.state.hash)).toBe(true);
    expect(u2.version).toBe(2);
    expect(u2.mutations[0]).toMatchObject({ operation: 'set', index: ['pin_v1', 'a@s.whatsapp.net'], value: { pinAction: { pinned: false } } });
  });

  it('decodes a snapshot (every record a SET) and checks its MAC under the snapshot\'s key', () => {
    // Prepare: records as a compacted collection holds them, two keys
    const history = sim.encodePatch(NAME, [pin('a@s.whatsapp.net', true), pin('b@s.whatsapp.net', true)], sim.newCollectionState(), older);
    const later = sim.encodePatch(NAME, [pin('c@s.whatsapp.net', true)], history.state, key);
    const records = [...proto.SyncdPatch.decode(history.patch).mutations!, ...proto.SyncdPatch.decode(later.patch).mutations!].map((m) => m.record!);
    const snapshot: proto.ISyncdSnapshot = { version: { version: 2 }, records, keyId: { id: key.id }, mac: sim.snapshotMac(later.state.hash, 2, NAME, sim.expandKeys(key.data).snapshotMacKey) };
    // Act
    const update = decodeSnapshot(NAME, snapshot, lookup);
    // Assess
    expect(update.hash.equals(later.state.hash)).toBe(true);
    expect(update.mutations).toHaveLength(3);
    expect(() => decodeSnapshot(NAME, { ...snapshot, version: { version: 3 } }, lookup)).toThrow(AppStateVerificationError);
  });

  it.each([
    ['a flipped value byte', (p: proto.ISyncdPatch) => void (p.mutations![0]!.record!.value!.blob![20] ^= 1)],
    ['a forged value MAC', (p: proto.ISyncdPatch) => void (p.mutations![0]!.record!.value!.blob!.set(randomBytes(32), p.mutations![0]!.record!.value!.blob!.length - 32))],
    ['another index MAC', (p: proto.ISyncdPatch) => void (p.mutations![0]!.record!.index!.blob = randomBytes(32))],
    ['a wrong LT hash', (p: proto.ISyncdPatch) => void (p.snapshotMac = randomBytes(32))],
    ['a wrong patch MAC', (p: proto.ISyncdPatch) => void (p.patchMac = randomBytes(32))],
    ['a skipped version', (p: proto.ISyncdPatch) => void (p.version = { version: 2 })],
  ])('refuses %s with AppStateVerificationError', (_case, tamper) => {
    // Prepare
    const patch = proto.SyncdPatch.decode(sim.encodePatch(NAME, [pin('a@s.whatsapp.net', true)], sim.newCollectionState(), key).patch);
    tamper(patch);
    // Act / Assess
    expect(() => decodePatch(NAME, patch, base(sim.newCollectionState()), () => null, lookup)).toThrow(AppStateVerificationError);
  });

  it('a record under a key the device lacks → AppStateKeyMissingError naming the key', () => {
    const stranger = { id: randomBytes(6), data: randomBytes(32) };
    const patch = proto.SyncdPatch.decode(sim.encodePatch(NAME, [pin('a@s.whatsapp.net', true)], sim.newCollectionState(), stranger).patch);
    expect(() => decodePatch(NAME, patch, base(sim.newCollectionState()), () => null, lookup)).toThrow(
      expect.objectContaining({ name: 'AppStateKeyMissingError', keyId: Buffer.from(stranger.id).toString('base64') }),
    );
  });

  it('a REMOVE of an index the collection does not hold is refused', () => {
    const { patch } = encodePatch(NAME, { version: 0, hash: Buffer.alloc(128) }, () => null, [{ ...pin('a@s.whatsapp.net', true), operation: 'set' }], ours);
    patch.mutations![0]!.operation = proto.SyncdMutation.SyncdOperation.REMOVE;
    expect(() => decodePatch(NAME, patch, { version: 0, hash: Buffer.alloc(128) }, () => null, lookup)).toThrow(AppStateVerificationError);
  });
});
