/**
 * WhatsApp app-state (syncd) patch crypto, written from the protocol recipe with node:crypto only, so the
 * simulator checks what a client uploads independently of Baileys' own decoder (whatsapp-rust-bridge).
 * Protobuf framing uses WAProto. Recipe: ../../../shared/notes/whatsapp-protocol.md §2.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { proto } from '@whiskeysockets/baileys';

export type Operation = 'set' | 'remove';

export interface MutationKeys {
  indexKey: Buffer;
  valueEncryptionKey: Buffer;
  valueMacKey: Buffer;
  snapshotMacKey: Buffer;
  patchMacKey: Buffer;
}

/** An app-state sync key: its id (as sent in KeyId.id) and the 32-byte key data. */
export interface AppStateKey {
  id: Uint8Array;
  data: Uint8Array;
}

/** The verified state of one collection after `version` patches. indexValueMap: base64(indexMac) → valueMac. */
export interface CollectionState {
  version: number;
  hash: Buffer;
  indexValueMap: Map<string, Buffer>;
}

export interface DecodedMutation {
  operation: Operation;
  index: string[];
  value: proto.ISyncActionValue;
  apiVersion: number;
  indexMac: Buffer;
  valueMac: Buffer;
}

export interface MutationInput {
  operation: Operation;
  index: string[];
  value: proto.ISyncActionValue;
  apiVersion: number;
}

/** Why a patch failed verification; `kind` is stable (used as the violation kind). */
export class PatchVerificationError extends Error {
  constructor(
    readonly kind: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'PatchVerificationError';
  }
}

const LT_HASH_BYTES = 128;
const { SET, REMOVE } = proto.SyncdMutation.SyncdOperation;

const hmac = (algorithm: 'sha256' | 'sha512', key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const h = createHmac(algorithm, key);
  for (const part of parts) h.update(part);
  return h.digest();
};

const uint64BE = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

const equal = (a: Uint8Array, b: Uint8Array | null | undefined): boolean =>
  !!b && a.length === b.length && timingSafeEqual(a, b);

export const expandKeys = (keyData: Uint8Array): MutationKeys => {
  const k = Buffer.from(hkdfSync('sha256', keyData, Buffer.alloc(0), 'WhatsApp Mutation Keys', 160));
  return {
    indexKey: k.subarray(0, 32),
    valueEncryptionKey: k.subarray(32, 64),
    valueMacKey: k.subarray(64, 96),
    snapshotMacKey: k.subarray(96, 128),
    patchMacKey: k.subarray(128, 160),
  };
};

/** First 32 bytes of HMAC-SHA512(opByte ‖ keyId ‖ IV‖ciphertext ‖ uint64BE(len(keyId)+1)). */
export const valueMac = (operation: Operation, ivAndCiphertext: Uint8Array, keyId: Uint8Array, valueMacKey: Uint8Array): Buffer =>
  hmac('sha512', valueMacKey, Buffer.of(operation === 'set' ? 1 : 2), keyId, ivAndCiphertext, uint64BE(keyId.length + 1)).subarray(0, 32);

export const indexMac = (indexJson: Uint8Array, indexKey: Uint8Array): Buffer => hmac('sha256', indexKey, indexJson);

export const snapshotMac = (ltHash: Uint8Array, version: number, name: string, snapshotMacKey: Uint8Array): Buffer =>
  hmac('sha256', snapshotMacKey, ltHash, uint64BE(version), Buffer.from(name, 'utf8'));

export const patchMac = (snapshot: Uint8Array, valueMacs: Uint8Array[], version: number, name: string, patchMacKey: Uint8Array): Buffer =>
  hmac('sha256', patchMacKey, snapshot, ...valueMacs, uint64BE(version), Buffer.from(name, 'utf8'));

const ltExpand = (mac: Uint8Array): Buffer =>
  Buffer.from(hkdfSync('sha256', mac, Buffer.alloc(0), 'WhatsApp Patch Integrity', LT_HASH_BYTES));

const ltCombine = (hash: Uint8Array, mac: Uint8Array, sign: 1 | -1): Buffer => {
  const base = Buffer.from(hash);
  const delta = ltExpand(mac);
  const out = Buffer.alloc(LT_HASH_BYTES);
  for (let i = 0; i < LT_HASH_BYTES; i += 2) {
    out.writeUInt16LE((base.readUInt16LE(i) + sign * delta.readUInt16LE(i) + 0x10000) & 0xffff, i);
  }
  return out;
};

/** LT hash: 64 little-endian uint16 lanes, each valueMac expanded to 128 bytes and added/subtracted lane-wise mod 2^16. */
export const ltHashAdd = (hash: Uint8Array, valueMac: Uint8Array): Buffer => ltCombine(hash, valueMac, 1);
export const ltHashSubtract = (hash: Uint8Array, valueMac: Uint8Array): Buffer => ltCombine(hash, valueMac, -1);

export const newCollectionState = (): CollectionState => ({ version: 0, hash: Buffer.alloc(LT_HASH_BYTES), indexValueMap: new Map() });

/** Applies one mutation to the LT hash and index map: SET adds (and subtracts a replaced value), REMOVE subtracts. */
const mix = (state: CollectionState, operation: Operation, iMac: Buffer, vMac: Buffer): void => {
  const key = iMac.toString('base64');
  const previous = state.indexValueMap.get(key);
  if (operation === 'remove') {
    if (!previous) throw new PatchVerificationError('remove-unknown-index', `REMOVE of an index not in the collection (${key})`);
    state.hash = ltHashSubtract(state.hash, previous);
    state.indexValueMap.delete(key);
    return;
  }
  if (previous) state.hash = ltHashSubtract(state.hash, previous);
  state.hash = ltHashAdd(state.hash, vMac);
  state.indexValueMap.set(key, vMac);
};

const cloneState = (s: CollectionState): CollectionState => ({ version: s.version, hash: Buffer.from(s.hash), indexValueMap: new Map(s.indexValueMap) });

const toOperation = (op: proto.SyncdMutation.SyncdOperation | null | undefined): Operation => (op === REMOVE ? 'remove' : 'set');

/**
 * Decrypts and verifies a SyncdPatch (bytes or decoded) that claims to move `state` of collection `name` to
 * `state.version + 1`: every valueMac, the index HMAC against the decrypted index, the LT hash chained from
 * `state` against snapshotMac, and patchMac. Returns the new state (input untouched) and the decoded mutations;
 * throws PatchVerificationError otherwise.
 */
export const verifyPatch = (
  name: string,
  patch: Uint8Array | proto.ISyncdPatch,
  state: CollectionState,
  getKey: (keyId: Uint8Array) => Uint8Array | undefined,
): { state: CollectionState; mutations: DecodedMutation[] } => {
  let syncd: proto.ISyncdPatch;
  try {
    syncd = patch instanceof Uint8Array ? proto.SyncdPatch.decode(patch) : patch;
  } catch (error) {
    throw new PatchVerificationError('malformed-patch', `SyncdPatch does not decode: ${(error as Error).message}`);
  }
  const version = state.version + 1;
  const claimed = syncd.version?.version;
  if (claimed !== undefined && claimed !== null && (typeof claimed === 'number' ? claimed : claimed.toNumber()) !== version) {
    throw new PatchVerificationError('wrong-version', `patch version ${claimed}, expected ${version}`);
  }
  if (syncd.externalMutations) throw new PatchVerificationError('external-mutations', 'external mutations are not supported');
  if (!syncd.mutations?.length) throw new PatchVerificationError('empty-patch', 'patch has no mutations');
  const keysFor = (keyId: Uint8Array | null | undefined, what: string): MutationKeys => {
    const data = keyId?.length ? getKey(keyId) : undefined;
    if (!data) throw new PatchVerificationError('unknown-key', `${what} uses unknown key id ${Buffer.from(keyId ?? []).toString('base64')}`);
    return expandKeys(data);
  };
  const patchKeys = keysFor(syncd.keyId?.id, 'patch');
  const next = cloneState(state);
  next.version = version;
  const mutations: DecodedMutation[] = [];
  const valueMacs: Buffer[] = [];
  syncd.mutations.forEach((mutation, i) => {
    const record = mutation.record;
    const operation = toOperation(mutation.operation);
    const keyId = record?.keyId?.id;
    const keys = keysFor(keyId, `mutation ${i}`);
    const blob = Buffer.from(record?.value?.blob ?? []);
    const iMac = Buffer.from(record?.index?.blob ?? []);
    if (blob.length < 16 + 16 + 32 || iMac.length !== 32) throw new PatchVerificationError('malformed-record', `mutation ${i}: value or index blob too short`);
    const encrypted = blob.subarray(0, -32);
    const vMac = blob.subarray(-32);
    if (!equal(valueMac(operation, encrypted, keyId!, keys.valueMacKey), vMac)) {
      throw new PatchVerificationError('value-mac', `mutation ${i}: valueMac does not match the value blob`);
    }
    let data: proto.SyncActionData;
    try {
      const decipher = createDecipheriv('aes-256-cbc', keys.valueEncryptionKey, encrypted.subarray(0, 16));
      data = proto.SyncActionData.decode(Buffer.concat([decipher.update(encrypted.subarray(16)), decipher.final()]));
    } catch (error) {
      throw new PatchVerificationError('undecryptable-value', `mutation ${i}: ${(error as Error).message}`);
    }
    const indexJson = Buffer.from(data.index ?? []);
    if (!equal(indexMac(indexJson, keys.indexKey), iMac)) {
      throw new PatchVerificationError('index-mac', `mutation ${i}: indexMac does not match the decrypted index`);
    }
    let index: unknown;
    try {
      index = JSON.parse(indexJson.toString('utf8'));
    } catch {
      index = undefined;
    }
    if (!Array.isArray(index) || !index.every(part => typeof part === 'string')) {
      throw new PatchVerificationError('malformed-index', `mutation ${i}: index is not a JSON array of strings`);
    }
    mix(next, operation, iMac, vMac);
    valueMacs.push(vMac);
    mutations.push({ operation, index, value: data.value ?? {}, apiVersion: data.version ?? 0, indexMac: iMac, valueMac: vMac });
  });
  const expectedSnapshotMac = snapshotMac(next.hash, version, name, patchKeys.snapshotMacKey);
  if (!equal(expectedSnapshotMac, syncd.snapshotMac)) {
    throw new PatchVerificationError('snapshot-mac', `snapshotMac does not match the LT hash chained from v${state.version} to v${version}`);
  }
  if (!equal(patchMac(expectedSnapshotMac, valueMacs, version, name, patchKeys.patchMacKey), syncd.patchMac)) {
    throw new PatchVerificationError('patch-mac', 'patchMac does not match');
  }
  return { state: next, mutations };
};

/** Builds and encrypts a SyncdPatch moving `state` of `name` to the next version (what a phone uploads). */
export const encodePatch = (
  name: string,
  inputs: MutationInput[],
  state: CollectionState,
  key: AppStateKey,
): { patch: Uint8Array; state: CollectionState; mutations: DecodedMutation[] } => {
  const keys = expandKeys(key.data);
  const keyId = Buffer.from(key.id);
  const next = cloneState(state);
  next.version = state.version + 1;
  const records: proto.ISyncdMutation[] = [];
  const mutations: DecodedMutation[] = [];
  for (const input of inputs) {
    const indexJson = Buffer.from(JSON.stringify(input.index));
    const plain = proto.SyncActionData.encode({ index: indexJson, value: input.value, padding: new Uint8Array(0), version: input.apiVersion }).finish();
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-256-cbc', keys.valueEncryptionKey, iv);
    const encrypted = Buffer.concat([iv, cipher.update(plain), cipher.final()]);
    const vMac = valueMac(input.operation, encrypted, keyId, keys.valueMacKey);
    const iMac = indexMac(indexJson, keys.indexKey);
    mix(next, input.operation, iMac, vMac);
    records.push({
      operation: input.operation === 'set' ? SET : REMOVE,
      record: { index: { blob: iMac }, value: { blob: Buffer.concat([encrypted, vMac]) }, keyId: { id: keyId } },
    });
    mutations.push({ ...input, indexMac: iMac, valueMac: vMac });
  }
  const snapshot = snapshotMac(next.hash, next.version, name, keys.snapshotMacKey);
  const patch = proto.SyncdPatch.encode({
    version: { version: next.version },
    mutations: records,
    snapshotMac: snapshot,
    patchMac: patchMac(snapshot, mutations.map(m => m.valueMac), next.version, name, keys.patchMacKey),
    keyId: { id: keyId },
  }).finish();
  return { patch, state: next, mutations };
};
