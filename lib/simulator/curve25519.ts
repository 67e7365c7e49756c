/** Curve25519 for the simulator: X25519 agreement and XEdDSA verification with node:crypto only. */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { calculateSignature } from 'libsignal/src/curve.js';

export interface KeyPair { private: Uint8Array; public: Uint8Array }

const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

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

/** XEdDSA verification: the product's own (lib/whatsapp/certificate-signature.ts). */
export { verifyXEdDSA as verifySignature } from '../whatsapp/certificate-signature.js';
