/**
 * The app-state (syncd) primitives, on Baileys' own crypto (its hkdf, HMAC, AES-CBC and LT hash): key
 * expansion, value and index MACs, snapshot and patch MACs, the LT hash. Recipe:
 * ../../../shared/notes/whatsapp-protocol.md §2. Decoding and encoding whole patches is ./sync-codec.ts.
 */
import { timingSafeEqual } from 'node:crypto';
import { aesDecrypt, aesEncrypt, hkdf, hmacSign, LT_HASH_ANTI_TAMPERING } from '@whiskeysockets/baileys';

export type Operation = 'set' | 'remove';

/** The five keys one app-state sync key expands to. */
export interface MutationKeys {
  indexKey: Buffer;
  valueEncryptionKey: Buffer;
  valueMacKey: Buffer;
  snapshotMacKey: Buffer;
  patchMacKey: Buffer;
}

export const LT_HASH_BYTES = 128;
export const emptyLtHash = (): Buffer => Buffer.alloc(LT_HASH_BYTES);

export function mutationKeys(keyData: Uint8Array): MutationKeys {
  const k = Buffer.from(hkdf(keyData, 160, { info: 'WhatsApp Mutation Keys' }));
  return {
    indexKey: k.subarray(0, 32),
    valueEncryptionKey: k.subarray(32, 64),
    valueMacKey: k.subarray(64, 96),
    snapshotMacKey: k.subarray(96, 128),
    patchMacKey: k.subarray(128, 160),
  };
}

const uint64BE = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** First 32 bytes of HMAC-SHA512(opByte ‖ keyId ‖ IV‖ciphertext ‖ uint64BE(len(keyId)+1)). */
export const valueMac = (operation: Operation, ivAndCiphertext: Uint8Array, keyId: Uint8Array, valueMacKey: Uint8Array): Buffer =>
  hmacSign(Buffer.concat([Buffer.of(operation === 'set' ? 1 : 2), keyId, ivAndCiphertext, uint64BE(keyId.length + 1)]), valueMacKey, 'sha512').subarray(0, 32);

export const indexMac = (indexJson: Uint8Array, indexKey: Uint8Array): Buffer => hmacSign(indexJson, indexKey, 'sha256');

export const snapshotMac = (ltHash: Uint8Array, version: number, name: string, snapshotMacKey: Uint8Array): Buffer =>
  hmacSign(Buffer.concat([ltHash, uint64BE(version), Buffer.from(name, 'utf8')]), snapshotMacKey, 'sha256');

export const patchMac = (snapshot: Uint8Array, valueMacs: Uint8Array[], version: number, name: string, patchMacKey: Uint8Array): Buffer =>
  hmacSign(Buffer.concat([snapshot, ...valueMacs, uint64BE(version), Buffer.from(name, 'utf8')]), patchMacKey, 'sha256');

/** The LT hash after removing `subtract` and adding `add` (value MACs). */
export const ltHash = (hash: Uint8Array, subtract: Uint8Array[], add: Uint8Array[]): Buffer =>
  Buffer.from(LT_HASH_ANTI_TAMPERING.subtractThenAdd(hash, subtract, add));

export const encryptValue = (plaintext: Uint8Array, valueEncryptionKey: Uint8Array): Buffer => aesEncrypt(plaintext, valueEncryptionKey);
export const decryptValue = (ivAndCiphertext: Uint8Array, valueEncryptionKey: Uint8Array): Buffer => aesDecrypt(ivAndCiphertext, valueEncryptionKey);

/** Constant-time equality of two MACs (false when either is missing or the lengths differ). */
export const sameMac = (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean =>
  !!a && !!b && a.length === b.length && timingSafeEqual(a, b);
