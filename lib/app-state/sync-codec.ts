/**
 * Strict decoding and encoding of app-state patches and snapshots. Unlike Baileys' decoder, which skips
 * records that fail to decrypt or verify and carries on with a diverged LT hash, any failure here throws
 * and leaves the collection as it was: a missing key is an AppStateKeyMissingError (the operator must
 * act), anything else an AppStateVerificationError. Every record's value MAC, index MAC, the LT hash
 * (snapshot MAC) and the patch MAC are checked.
 */
import { proto, toNumber } from '@whiskeysockets/baileys';
import { AppStateVerificationError } from '../errors.js';
import {
  decryptValue,
  emptyLtHash,
  encryptValue,
  indexMac,
  ltHash,
  patchMac,
  sameMac,
  snapshotMac,
  valueMac,
  type MutationKeys,
  type Operation,
} from './app-state-crypto.js';

/** The expanded keys of an app-state key id; throws AppStateKeyMissingError when the device lacks it. */
export type KeyLookup = (keyId: Uint8Array) => MutationKeys;

/** One decoded mutation: its entry (index MAC → value MAC, base64 index MAC) and what it says. */
export interface DecodedMutation {
  operation: Operation;
  indexMac: string;
  valueMac: Buffer;
  index: string[];
  value: proto.ISyncActionValue;
}

/** A verified step of the collection: the version and LT hash it reaches, and the mutations on the way. */
export interface CollectionUpdate {
  version: number;
  hash: Buffer;
  mutations: DecodedMutation[];
}

/** What a mutation to upload says (Baileys' chatModificationToAppPatch shape, without the collection). */
export interface MutationInput {
  operation: Operation;
  index: string[];
  value: proto.ISyncActionValue;
  apiVersion: number;
}

/** The value MAC currently stored for an index MAC (base64); null when the collection has no such entry. */
export type ValueLookup = (indexMac: string) => Buffer | null;

const { SET, REMOVE } = proto.SyncdMutation.SyncdOperation;
const invalid = (detail: string) => new AppStateVerificationError(`app state does not verify: ${detail}`);

function decodeRecord(record: proto.ISyncdRecord | null | undefined, operation: Operation, keysFor: KeyLookup, where: string): DecodedMutation {
  const keyId = record?.keyId?.id;
  const blob = Buffer.from(record?.value?.blob ?? []);
  const iMac = Buffer.from(record?.index?.blob ?? []);
  if (!keyId?.length || blob.length < 16 + 16 + 32 || iMac.length !== 32) throw invalid(`${where}: malformed record`);
  const keys = keysFor(keyId);
  const encrypted = blob.subarray(0, -32);
  const vMac = blob.subarray(-32);
  if (!sameMac(valueMac(operation, encrypted, keyId, keys.valueMacKey), vMac)) throw invalid(`${where}: value MAC`);
  let data: proto.SyncActionData;
  try {
    data = proto.SyncActionData.decode(decryptValue(encrypted, keys.valueEncryptionKey));
  } catch (error) {
    throw new AppStateVerificationError(`app state does not verify: ${where}: value does not decrypt`, { cause: error });
  }
  const indexJson = Buffer.from(data.index ?? []);
  if (!sameMac(indexMac(indexJson, keys.indexKey), iMac)) throw invalid(`${where}: index MAC`);
  let index: unknown;
  try {
    index = JSON.parse(indexJson.toString('utf8'));
  } catch {
    index = undefined;
  }
  if (!Array.isArray(index) || !index.every((part) => typeof part === 'string')) throw invalid(`${where}: index is not a JSON array of strings`);
  return { operation, indexMac: iMac.toString('base64'), valueMac: Buffer.from(vMac), index, value: data.value ?? {} };
}

/** Folds mutations into the LT hash, reading each index's previous value through `valueOf` (in-patch changes first). */
function fold(base: Buffer, mutations: DecodedMutation[], valueOf: ValueLookup, where: string): Buffer {
  const overlay = new Map<string, Buffer | null>();
  const subtract: Buffer[] = [];
  const add: Buffer[] = [];
  for (const mutation of mutations) {
    const previous = overlay.has(mutation.indexMac) ? overlay.get(mutation.indexMac)! : valueOf(mutation.indexMac);
    if (mutation.operation === 'remove' && !previous) throw invalid(`${where}: REMOVE of an index the collection does not hold`);
    if (previous) subtract.push(previous);
    if (mutation.operation === 'set') add.push(mutation.valueMac);
    overlay.set(mutation.indexMac, mutation.operation === 'set' ? mutation.valueMac : null);
  }
  return ltHash(base, subtract, add);
}

/**
 * Verifies a patch on top of `base` (its version must be the next one) and returns where it leads. The
 * patch's external mutations, if any, must already be appended to `mutations`.
 */
export function decodePatch(name: string, syncd: proto.ISyncdPatch, base: { version: number; hash: Buffer }, valueOf: ValueLookup, keysFor: KeyLookup): CollectionUpdate {
  const version = toNumber(syncd.version?.version);
  const where = `${name} v${version}`;
  if (version !== base.version + 1) throw invalid(`${where} does not follow v${base.version}`);
  if (!syncd.keyId?.id?.length || !syncd.mutations?.length) throw invalid(`${where}: patch without key or mutations`);
  const patchKeys = keysFor(syncd.keyId.id);
  const mutations = syncd.mutations.map((mutation, i) => decodeRecord(mutation.record, mutation.operation === REMOVE ? 'remove' : 'set', keysFor, `${where} mutation ${i}`));
  const hash = fold(base.hash, mutations, valueOf, where);
  const expected = snapshotMac(hash, version, name, patchKeys.snapshotMacKey);
  if (!sameMac(expected, syncd.snapshotMac)) throw invalid(`${where}: LT hash (snapshot MAC)`);
  if (!sameMac(patchMac(expected, mutations.map((m) => m.valueMac), version, name, patchKeys.patchMacKey), syncd.patchMac)) throw invalid(`${where}: patch MAC`);
  return { version, hash, mutations };
}

/** Verifies a snapshot (the whole collection at its version, every record a SET) and returns it as an update from nothing. */
export function decodeSnapshot(name: string, snapshot: proto.ISyncdSnapshot, keysFor: KeyLookup): CollectionUpdate {
  const version = toNumber(snapshot.version?.version);
  const where = `${name} snapshot v${version}`;
  if (!snapshot.keyId?.id?.length) throw invalid(`${where} without key`);
  const snapshotKeys = keysFor(snapshot.keyId.id);
  const mutations = (snapshot.records ?? []).map((record, i) => decodeRecord(record, 'set', keysFor, `${where} record ${i}`));
  const hash = fold(emptyLtHash(), mutations, () => null, where);
  if (!sameMac(snapshotMac(hash, version, name, snapshotKeys.snapshotMacKey), snapshot.mac)) throw invalid(`${where}: LT hash (snapshot MAC)`);
  return { version, hash, mutations };
}

/** Encrypts mutations into the patch that moves `base` to the next version, under the key `keyId`. */
export function encodePatch(
  name: string,
  base: { version: number; hash: Buffer },
  valueOf: ValueLookup,
  inputs: MutationInput[],
  key: { id: Uint8Array; keys: MutationKeys },
): { patch: proto.ISyncdPatch; update: CollectionUpdate } {
  const keyId = Buffer.from(key.id);
  const version = base.version + 1;
  const records: proto.ISyncdMutation[] = [];
  const mutations: DecodedMutation[] = [];
  for (const input of inputs) {
    const indexJson = Buffer.from(JSON.stringify(input.index));
    const plain = proto.SyncActionData.encode({ index: indexJson, value: input.value, padding: new Uint8Array(0), version: input.apiVersion }).finish();
    const encrypted = encryptValue(plain, key.keys.valueEncryptionKey);
    const vMac = valueMac(input.operation, encrypted, keyId, key.keys.valueMacKey);
    const iMac = indexMac(indexJson, key.keys.indexKey);
    records.push({
      operation: input.operation === 'set' ? SET : REMOVE,
      record: { index: { blob: iMac }, value: { blob: Buffer.concat([encrypted, vMac]) }, keyId: { id: keyId } },
    });
    mutations.push({ operation: input.operation, indexMac: iMac.toString('base64'), valueMac: vMac, index: input.index, value: input.value });
  }
  const hash = fold(base.hash, mutations, valueOf, `${name} v${version}`);
  const snapshot = snapshotMac(hash, version, name, key.keys.snapshotMacKey);
  const patch: proto.ISyncdPatch = {
    version: { version },
    mutations: records,
    snapshotMac: snapshot,
    patchMac: patchMac(snapshot, mutations.map((m) => m.valueMac), version, name, key.keys.patchMacKey),
    keyId: { id: keyId },
  };
  return { patch, update: { version, hash, mutations } };
}

/** The index MAC (base64) `index` has under `indexKey`: what a patch on it will touch. */
export const indexMacOf = (index: string[], indexKey: Uint8Array): string => indexMac(Buffer.from(JSON.stringify(index)), indexKey).toString('base64');

/** The index MACs a patch's records name, known before decoding (to load their entries first). */
export const touchedIndexMacs = (syncd: proto.ISyncdPatch): string[] =>
  (syncd.mutations ?? []).map((mutation) => Buffer.from(mutation.record?.index?.blob ?? []).toString('base64'));
