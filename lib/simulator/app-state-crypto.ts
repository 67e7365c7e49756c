/**
 * WhatsApp app-state (syncd) patch crypto, written from the protocol recipe with node:crypto only, so the
 * simulator checks what a client uploads independently of Baileys' own decoder (whatsapp-rust-bridge).
 * Protobuf framing uses WAProto. Recipe: ../../../shared/notes/whatsapp-protocol.md §2.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
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
  /** the record exactly as uploaded or made (what a snapshot holds for the index) */
  record: proto.ISyncdRecord;
}

/** Resolves an ExternalBlobReference (snapshot or external mutations) to its decrypted plaintext. */
export type ExternalResolver = (ref: proto.IExternalBlobReference) => Uint8Array | undefined;

/** WhatsApp Web inlines at most ~100 mutations in a patch; more go to an external SyncdMutations blob. */
export const MAX_INLINE_MUTATIONS = 100;

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

const hmac = (algorithm: 'sha256' | 'sha512', key: Uint8Array | KeyObject, ...parts: Uint8Array[]): Buffer => {
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
export const valueMac = (operation: Operation, ivAndCiphertext: Uint8Array, keyId: Uint8Array, valueMacKey: Uint8Array | KeyObject): Buffer =>
  hmac('sha512', valueMacKey, Buffer.of(operation === 'set' ? 1 : 2), keyId, ivAndCiphertext, uint64BE(keyId.length + 1)).subarray(0, 32);

export const indexMac = (indexJson: Uint8Array, indexKey: Uint8Array | KeyObject): Buffer => hmac('sha256', indexKey, indexJson);

export const snapshotMac = (ltHash: Uint8Array, version: number, name: string, snapshotMacKey: Uint8Array): Buffer =>
  hmac('sha256', snapshotMacKey, ltHash, uint64BE(version), Buffer.from(name, 'utf8'));

export const patchMac = (snapshot: Uint8Array, valueMacs: Uint8Array[], version: number, name: string, patchMacKey: Uint8Array): Buffer =>
  hmac('sha256', patchMacKey, snapshot, ...valueMacs, uint64BE(version), Buffer.from(name, 'utf8'));

const ltExpand = (mac: Uint8Array): Buffer =>
  Buffer.from(hkdfSync('sha256', mac, Buffer.alloc(0), 'WhatsApp Patch Integrity', LT_HASH_BYTES));

/** hash ± expand(mac), lane-wise mod 2^16, written into `out` (which may be `hash`). */
const ltCombineInto = (out: Buffer, hash: Uint8Array, mac: Uint8Array, sign: 1 | -1): Buffer => {
  const delta = ltExpand(mac);
  for (let i = 0; i < LT_HASH_BYTES; i += 2) {
    const lane = (hash[i] | (hash[i + 1] << 8)) + sign * (delta[i] | (delta[i + 1] << 8));
    out[i] = lane & 0xff;
    out[i + 1] = (lane >> 8) & 0xff;
  }
  return out;
};

const ltCombine = (hash: Uint8Array, mac: Uint8Array, sign: 1 | -1): Buffer => ltCombineInto(Buffer.alloc(LT_HASH_BYTES), hash, mac, sign);

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
    ltCombineInto(state.hash, state.hash, previous, -1);
    state.indexValueMap.delete(key);
    return;
  }
  if (previous) ltCombineInto(state.hash, state.hash, previous, -1);
  ltCombineInto(state.hash, state.hash, vMac, 1);
  state.indexValueMap.set(key, vMac);
};

const cloneState = (s: CollectionState): CollectionState => ({ version: s.version, hash: Buffer.from(s.hash), indexValueMap: new Map(s.indexValueMap) });

const toOperation = (op: proto.SyncdMutation.SyncdOperation | null | undefined): Operation => (op === REMOVE ? 'remove' : 'set');

const toNumber = (n: number | { toNumber(): number } | null | undefined): number | undefined =>
  n === null || n === undefined ? undefined : typeof n === 'number' ? n : n.toNumber();

/** Expanded keys per key id, so a long patch or a large snapshot expands each key once. */
const keyCache = (getKey: (keyId: Uint8Array) => Uint8Array | undefined) => {
  const cache = new Map<string, MutationKeys>();
  return (keyId: Uint8Array | null | undefined, what: string): MutationKeys => {
    const id = Buffer.from(keyId ?? []).toString('base64');
    const cached = cache.get(id);
    if (cached) return cached;
    const data = keyId?.length ? getKey(keyId) : undefined;
    if (!data) throw new PatchVerificationError('unknown-key', `${what} uses unknown key id ${id}`);
    const keys = expandKeys(data);
    cache.set(id, keys);
    return keys;
  };
};

/** Checks and decrypts one record (a snapshot record or a mutation's record) and mixes it into `state`. */
const openRecord = (record: proto.ISyncdRecord | null | undefined, operation: Operation, keysFor: ReturnType<typeof keyCache>, what: string): DecodedMutation => {
  const keyId = record?.keyId?.id;
  const keys = keysFor(keyId, what);
  const blob = Buffer.from(record?.value?.blob ?? []);
  const iMac = Buffer.from(record?.index?.blob ?? []);
  if (blob.length < 16 + 16 + 32 || iMac.length !== 32) throw new PatchVerificationError('malformed-record', `${what}: value or index blob too short`);
  const encrypted = blob.subarray(0, -32);
  const vMac = blob.subarray(-32);
  if (!equal(valueMac(operation, encrypted, keyId!, keys.valueMacKey), vMac)) {
    throw new PatchVerificationError('value-mac', `${what}: valueMac does not match the value blob`);
  }
  let data: proto.SyncActionData;
  try {
    const decipher = createDecipheriv('aes-256-cbc', keys.valueEncryptionKey, encrypted.subarray(0, 16));
    data = proto.SyncActionData.decode(Buffer.concat([decipher.update(encrypted.subarray(16)), decipher.final()]));
  } catch (error) {
    throw new PatchVerificationError('undecryptable-value', `${what}: ${(error as Error).message}`);
  }
  const indexJson = Buffer.from(data.index ?? []);
  if (!equal(indexMac(indexJson, keys.indexKey), iMac)) {
    throw new PatchVerificationError('index-mac', `${what}: indexMac does not match the decrypted index`);
  }
  let index: unknown;
  try {
    index = JSON.parse(indexJson.toString('utf8'));
  } catch {
    index = undefined;
  }
  if (!Array.isArray(index) || !index.every(part => typeof part === 'string')) {
    throw new PatchVerificationError('malformed-index', `${what}: index is not a JSON array of strings`);
  }
  return {
    operation, index, value: data.value ?? {}, apiVersion: data.version ?? 0, indexMac: iMac, valueMac: vMac,
    record: { index: { blob: iMac }, value: { blob }, keyId: { id: Buffer.from(keyId!) } },
  };
};

/**
 * Decrypts and verifies a SyncdPatch (bytes or decoded) that claims to move `state` of collection `name` to
 * `state.version + 1`: every valueMac, the index HMAC against the decrypted index, the LT hash chained from
 * `state` against snapshotMac, and patchMac. External mutations (`externalMutations`) are fetched with
 * `resolveExternal` and appended after the inline ones, as clients do, before the MACs are checked.
 * Returns the new state (input untouched) and the decoded mutations; throws PatchVerificationError otherwise.
 */
export const verifyPatch = (
  name: string,
  patch: Uint8Array | proto.ISyncdPatch,
  state: CollectionState,
  getKey: (keyId: Uint8Array) => Uint8Array | undefined,
  resolveExternal?: ExternalResolver,
): { state: CollectionState; mutations: DecodedMutation[] } => {
  let syncd: proto.ISyncdPatch;
  try {
    syncd = patch instanceof Uint8Array ? proto.SyncdPatch.decode(patch) : patch;
  } catch (error) {
    throw new PatchVerificationError('malformed-patch', `SyncdPatch does not decode: ${(error as Error).message}`);
  }
  const version = state.version + 1;
  const claimed = toNumber(syncd.version?.version);
  if (claimed !== undefined && claimed !== version) {
    throw new PatchVerificationError('wrong-version', `patch version ${claimed}, expected ${version}`);
  }
  const all = [...(syncd.mutations ?? [])];
  if (syncd.externalMutations) {
    const plain = resolveExternal?.(syncd.externalMutations);
    if (!plain) throw new PatchVerificationError('external-mutations', `external mutations ${syncd.externalMutations.directPath ?? '(no directPath)'} are not on the media host`);
    try {
      all.push(...proto.SyncdMutations.decode(plain).mutations);
    } catch (error) {
      throw new PatchVerificationError('external-mutations', `external SyncdMutations do not decode: ${(error as Error).message}`);
    }
  }
  if (!all.length) throw new PatchVerificationError('empty-patch', 'patch has no mutations');
  const keysFor = keyCache(getKey);
  const patchKeys = keysFor(syncd.keyId?.id, 'patch');
  const next = cloneState(state);
  next.version = version;
  const mutations: DecodedMutation[] = [];
  all.forEach((mutation, i) => {
    const decoded = openRecord(mutation.record, toOperation(mutation.operation), keysFor, `mutation ${i}`);
    mix(next, decoded.operation, decoded.indexMac, decoded.valueMac);
    mutations.push(decoded);
  });
  const expectedSnapshotMac = snapshotMac(next.hash, version, name, patchKeys.snapshotMacKey);
  if (!equal(expectedSnapshotMac, syncd.snapshotMac)) {
    throw new PatchVerificationError('snapshot-mac', `snapshotMac does not match the LT hash chained from v${state.version} to v${version}`);
  }
  if (!equal(patchMac(expectedSnapshotMac, mutations.map(m => m.valueMac), version, name, patchKeys.patchMacKey), syncd.patchMac)) {
    throw new PatchVerificationError('patch-mac', 'patchMac does not match');
  }
  return { state: next, mutations };
};

/** An app-state key with its expansion done once, as key objects (seeding encrypts thousands of records under one key). */
export interface ExpandedKey extends AppStateKey {
  keys: MutationKeys;
  objects: { index: KeyObject; valueEncryption: KeyObject; valueMac: KeyObject };
}
export const withExpandedKeys = (key: AppStateKey): ExpandedKey => {
  if ('objects' in key) return key as ExpandedKey;
  const keys = expandKeys(key.data);
  return { ...key, keys, objects: { index: createSecretKey(keys.indexKey), valueEncryption: createSecretKey(keys.valueEncryptionKey), valueMac: createSecretKey(keys.valueMacKey) } };
};

/** IVs drawn in bulk: one randomBytes call per 4,096 records. */
let ivPool = Buffer.alloc(0);
const nextIv = (): Buffer => {
  if (ivPool.length < 16) ivPool = randomBytes(16 * 4096);
  const iv = ivPool.subarray(0, 16);
  ivPool = ivPool.subarray(16);
  return iv;
};

/** Encrypts one mutation's record: IV ‖ AES-256-CBC(SyncActionData) ‖ valueMac, its indexMac and keyId. */
export const encryptRecord = (input: MutationInput, key: ExpandedKey): DecodedMutation => {
  const keyId = Buffer.from(key.id);
  const indexJson = Buffer.from(JSON.stringify(input.index));
  const plain = proto.SyncActionData.encode({ index: indexJson, value: input.value, padding: new Uint8Array(0), version: input.apiVersion }).finish();
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-cbc', key.objects.valueEncryption, iv);
  const encrypted = Buffer.concat([iv, cipher.update(plain), cipher.final()]);
  const vMac = valueMac(input.operation, encrypted, keyId, key.objects.valueMac);
  const iMac = indexMac(indexJson, key.objects.index);
  return { ...input, indexMac: iMac, valueMac: vMac, record: { index: { blob: iMac }, value: { blob: Buffer.concat([encrypted, vMac]) }, keyId: { id: keyId } } };
};

/**
 * encryptRecord for many inputs at once, with one AES-256-CBC stream over all their padded plaintexts: each record's IV
 * is the previous record's last ciphertext block (the first one's is random), so every value blob is a standard,
 * independently decryptable IV ‖ AES-256-CBC(SyncActionData) ‖ valueMac — with one cipher instead of one per record.
 */
export const encryptRecords = (inputs: MutationInput[], key: ExpandedKey): DecodedMutation[] => {
  const keyId = Buffer.from(key.id);
  const indexes = inputs.map(input => Buffer.from(JSON.stringify(input.index)));
  const padded = inputs.map((input, i) => {
    const plain = proto.SyncActionData.encode({ index: indexes[i], value: input.value, padding: new Uint8Array(0), version: input.apiVersion }).finish();
    const pad = 16 - (plain.length % 16);
    const out = Buffer.alloc(plain.length + pad, pad);
    out.set(plain);
    return out;
  });
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', key.objects.valueEncryption, iv);
  cipher.setAutoPadding(false);
  const stream = Buffer.concat([cipher.update(Buffer.concat(padded)), cipher.final()]);
  let offset = 0;
  let previous = iv;
  return inputs.map((input, i) => {
    const ciphertext = stream.subarray(offset, offset + padded[i].length);
    offset += padded[i].length;
    const encrypted = Buffer.concat([previous, ciphertext]);
    previous = ciphertext.subarray(-16);
    const vMac = valueMac(input.operation, encrypted, keyId, key.objects.valueMac);
    const iMac = indexMac(indexes[i], key.objects.index);
    return { ...input, indexMac: iMac, valueMac: vMac, record: { index: { blob: iMac }, value: { blob: Buffer.concat([encrypted, vMac]) }, keyId: { id: keyId } } };
  });
};

/**
 * Builds and encrypts a SyncdPatch moving `state` of `name` to the next version (what a phone uploads). With
 * `external` and more than MAX_INLINE_MUTATIONS mutations, the mutations go to an external SyncdMutations blob
 * (`external` hosts its plaintext and returns the reference) and the inline list stays empty.
 * `inPlace` updates `state` itself instead of a copy.
 */
export const encodePatch = (
  name: string,
  inputs: MutationInput[],
  state: CollectionState,
  key: AppStateKey,
  options: { external?: (syncdMutations: Uint8Array) => proto.IExternalBlobReference; inPlace?: boolean } = {},
): { patch: Uint8Array; state: CollectionState; mutations: DecodedMutation[]; external?: proto.IExternalBlobReference } => {
  const expanded = withExpandedKeys(key);
  const keyId = Buffer.from(key.id);
  // inPlace: `state` itself becomes the next state (no copy of a large index map; for an owner that keeps only the latest)
  const next = options.inPlace ? state : cloneState(state);
  next.version = state.version + 1;
  const mutations = inputs.map(input => {
    const mutation = encryptRecord(input, expanded);
    mix(next, input.operation, mutation.indexMac, mutation.valueMac);
    return mutation;
  });
  const records: proto.ISyncdMutation[] = mutations.map(m => ({ operation: m.operation === 'set' ? SET : REMOVE, record: m.record }));
  const external = options.external && records.length > MAX_INLINE_MUTATIONS
    ? options.external(proto.SyncdMutations.encode({ mutations: records }).finish())
    : undefined;
  const snapshot = snapshotMac(next.hash, next.version, name, expanded.keys.snapshotMacKey);
  const patch = proto.SyncdPatch.encode({
    version: { version: next.version },
    mutations: external ? [] : records,
    ...(external && { externalMutations: external }),
    snapshotMac: snapshot,
    patchMac: patchMac(snapshot, mutations.map(m => m.valueMac), next.version, name, expanded.keys.patchMacKey),
    keyId: { id: keyId },
  }).finish();
  return { patch, state: next, mutations, external };
};

/** Applies already-made SET records (e.g. seeded ones) to a state in place: no re-encryption, no copy. */
export const mixRecords = (state: CollectionState, mutations: Pick<DecodedMutation, 'operation' | 'indexMac' | 'valueMac'>[]): void => {
  for (const m of mutations) mix(state, m.operation, m.indexMac, m.valueMac);
};

/** SyncdSnapshot bytes for `state`: every current record, mac = snapshotMac(ltHash, version, name) under `key`. */
export const encodeSnapshot = (name: string, state: CollectionState, records: Iterable<proto.ISyncdRecord>, key: AppStateKey): Uint8Array => {
  const expanded = withExpandedKeys(key);
  return proto.SyncdSnapshot.encode({
    version: { version: state.version },
    records: [...records],
    mac: snapshotMac(state.hash, state.version, name, expanded.keys.snapshotMacKey),
    keyId: { id: Buffer.from(key.id) },
  }).finish();
};

/** Decrypts and verifies a SyncdSnapshot: every record (SET), then mac against the LT hash of all records. */
export const verifySnapshot = (
  name: string,
  snapshot: Uint8Array | proto.ISyncdSnapshot,
  getKey: (keyId: Uint8Array) => Uint8Array | undefined,
): { state: CollectionState; mutations: DecodedMutation[] } => {
  let decoded: proto.ISyncdSnapshot;
  try {
    decoded = snapshot instanceof Uint8Array ? proto.SyncdSnapshot.decode(snapshot) : snapshot;
  } catch (error) {
    throw new PatchVerificationError('malformed-snapshot', `SyncdSnapshot does not decode: ${(error as Error).message}`);
  }
  const keysFor = keyCache(getKey);
  const state = newCollectionState();
  state.version = toNumber(decoded.version?.version) ?? 0;
  const mutations = (decoded.records ?? []).map((record, i) => {
    const mutation = openRecord(record, 'set', keysFor, `record ${i}`);
    mix(state, 'set', mutation.indexMac, mutation.valueMac);
    return mutation;
  });
  const keys = keysFor(decoded.keyId?.id, 'snapshot');
  if (!equal(snapshotMac(state.hash, state.version, name, keys.snapshotMacKey), decoded.mac)) {
    throw new PatchVerificationError('snapshot-mac', `snapshot mac does not match the LT hash of its ${mutations.length} records`);
  }
  return { state, mutations };
};
