import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { Curve, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { processRoot } from './process-root.js';

/**
 * XEdDSA verification (Signal's signatures by Curve25519 keys, as WhatsApp's Noise certificates carry)
 * with node:crypto's Ed25519: the Montgomery key becomes its Edwards form, y = (u − 1) / (u + 1) mod p,
 * with the sign bit the signature carries in its last byte.
 *
 * Baileys' own certificate check never fails: its `Curve.verify` turns only a throw into `false`, and
 * libsignal's `verifySignature` returns `false` for a bad signature instead of throwing. So Baileys would
 * talk to any server that presents a well-formed chain. This check is real, and faster too (Baileys' pure-JS
 * curve25519 takes about 60 ms on a process's first handshake, 7–15 ms after; this, under one).
 */
const P = 2n ** 255n - 19n;
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

const littleEndian = (bytes: Uint8Array): bigint => bytes.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  for (let b = base % P, e = exponent; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) result = (result * b) % P;
  return result;
}

/** The Ed25519 public key (32 bytes) of Curve25519 key `u` whose x has sign `sign` (0 or 0x80). */
function edwardsKey(u: Uint8Array, sign: number): Buffer {
  const x = littleEndian(u) & ((1n << 255n) - 1n);
  let y = (((x - 1n + P) % P) * modPow(x + 1n, P - 2n)) % P;
  const key = Buffer.alloc(32);
  for (let i = 0; i < 32; i++, y >>= 8n) key[i] = Number(y & 0xffn);
  key[31]! |= sign;
  return key;
}

/**
 * Ed25519 keys by their Curve25519 key and sign: the keys that sign WhatsApp's certificates (its root, the
 * intermediate) are the same at every handshake, and converting one costs more than the verification.
 */
const edwardsKeys = new Map<string, KeyObject>();
const MAX_EDWARDS_KEYS = 16;

function verifyingKey(u: Uint8Array, sign: number): KeyObject {
  const id = `${Buffer.from(u).toString('hex')}.${sign}`;
  let key = edwardsKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, edwardsKey(u, sign)]), format: 'der', type: 'spki' });
    if (edwardsKeys.size >= MAX_EDWARDS_KEYS) edwardsKeys.clear();
    edwardsKeys.set(id, key);
  }
  return key;
}

/** Whether `signature` is `publicKey`'s XEdDSA signature of `message` (the key bare, 32 bytes, or with Signal's 0x05 prefix). */
export function verifyXEdDSA(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const u = publicKey.length === 33 && publicKey[0] === 5 ? publicKey.subarray(1) : publicKey;
  if (u.length !== 32 || signature.length !== 64) return false;
  const bare = Buffer.from(signature);
  const sign = bare[63]! & 0x80;
  bare[63]! &= 0x7f;
  try {
    return verify(null, message, verifyingKey(u, sign), bare);
  } catch {
    return false;
  }
}

/** Baileys' handshake looks `Curve.verify` up at each call: from now on it is this one. */
export function checkCertificatesForReal(): void {
  Curve.verify = verifyXEdDSA;
}

/** Before a connection: this module graph's Baileys checks against the process's root, if one was set (never in production). */
export function applyProcessRoot(): void {
  const root = processRoot();
  if (root) WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(root);
}
