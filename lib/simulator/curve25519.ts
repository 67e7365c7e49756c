/** Curve25519 for the simulator: X25519 agreement and XEdDSA verification with node:crypto only. */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, verify } from 'node:crypto';
import { calculateSignature } from 'libsignal/src/curve.js';

export interface KeyPair { private: Uint8Array; public: Uint8Array }

const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const P = 2n ** 255n - 19n;

const stripVersion = (key: Uint8Array) => (key.length === 33 ? key.subarray(1) : key);

export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    private: Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)),
    public: Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)),
  };
}

export function sharedKey(privateKey: Uint8Array, publicKey: Uint8Array): Buffer {
  return diffieHellman({
    privateKey: createPrivateKey({ key: Buffer.concat([X25519_PKCS8, privateKey]), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI, stripVersion(publicKey)]), format: 'der', type: 'spki' }),
  });
}

/** XEdDSA signature (the scheme WhatsApp/libsignal use over Montgomery keys); signing is not a check, so libsignal does it. */
export function sign(privateKey: Uint8Array, message: Uint8Array): Buffer {
  return calculateSignature(privateKey, message) as Buffer;
}

const modPow = (base: bigint, exp: bigint): bigint => {
  let result = 1n;
  for (let b = base % P, e = exp; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) result = (result * b) % P;
  return result;
};
const toBigIntLE = (bytes: Uint8Array) => bytes.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);

/** XEdDSA verification: Montgomery u → Edwards y = (u-1)/(u+1), sign bit taken from the signature, then plain Ed25519. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const montgomery = stripVersion(publicKey);
  if (montgomery.length !== 32 || signature.length !== 64) return false;
  const u = toBigIntLE(montgomery) & ((1n << 255n) - 1n);
  const y = (((u - 1n + P) % P) * modPow(u + 1n, P - 2n)) % P;
  const edwards = Buffer.alloc(32);
  for (let i = 0, v = y; i < 32; i++, v >>= 8n) edwards[i] = Number(v & 0xffn);
  edwards[31] |= signature[63] & 0x80;
  const sig = Buffer.from(signature);
  sig[63] &= 0x7f;
  try {
    return verify(null, message, createPublicKey({ key: Buffer.concat([ED25519_SPKI, edwards]), format: 'der', type: 'spki' }), sig);
  } catch {
    return false;
  }
}
