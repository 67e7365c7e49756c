/** The simulator's own certificate chain: root key → intermediate (issuerSerial 0) → leaf (the server's noise static key). */
import { proto } from '@whiskeysockets/baileys';
import { generateKeyPair, sign, type KeyPair } from './curve25519.js';

export interface ServerIdentity { rootPublicKey: Uint8Array; staticKey: KeyPair; certChain: Uint8Array }

export function createServerIdentity(): ServerIdentity {
  const root = generateKeyPair();
  const intermediate = generateKeyPair();
  const staticKey = generateKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const certificate = (details: proto.CertChain.NoiseCertificate.IDetails, signer: KeyPair) => {
    const bytes = proto.CertChain.NoiseCertificate.Details.encode(details).finish();
    return { details: bytes, signature: sign(signer.private, bytes) };
  };
  const certChain = proto.CertChain.encode({
    intermediate: certificate({ serial: 1, issuerSerial: 0, key: intermediate.public, notBefore: now - 3600, notAfter: now + 365 * 86400 }, root),
    leaf: certificate({ serial: 2, issuerSerial: 1, key: staticKey.public, notBefore: now - 3600, notAfter: now + 30 * 86400 }, intermediate),
  }).finish();
  return { rootPublicKey: root.public, staticKey, certChain };
}
