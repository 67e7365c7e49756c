import { describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Curve, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { verifyXEdDSA } from '../../../lib/whatsapp/certificate-signature.js';
import { trustRootInProcess } from '../../../lib/whatsapp/process-root.js';

// libsignal's own curve (pure JS, what Baileys ships) signs and judges; ours must agree on every case.
const libsignal = createRequire(import.meta.url)('libsignal/src/curve.js') as {
  generateKeyPair(): { pubKey: Buffer; privKey: Buffer };
  calculateSignature(privKey: Buffer, message: Buffer): Buffer;
  verifySignature(pubKey: Buffer, message: Buffer, signature: Buffer): boolean;
};
const theirs = (pubKey: Buffer, message: Buffer, signature: Buffer) => {
  try {
    return libsignal.verifySignature(pubKey, message, signature);
  } catch {
    return false;
  }
};

describe('XEdDSA certificate signatures over node:crypto', () => {
  it('agrees with libsignal on valid signatures, altered messages, altered signatures and other keys (6 key pairs)', () => {
    // Prepare
    const cases = Array.from({ length: 6 }, (_, i) => {
      const { pubKey, privKey } = libsignal.generateKeyPair();
      const message = randomBytes(1 + i * 23);
      const signature = libsignal.calculateSignature(privKey, message);
      const flipped = Buffer.from(signature);
      flipped[i % 64]! ^= 1 << i % 8;
      const altered = Buffer.from(message);
      altered[0]! ^= 0x40;
      return { pubKey, message, signature, flipped, altered, other: libsignal.generateKeyPair().pubKey };
    });
    // Act
    const judged = cases.map(({ pubKey, message, signature, flipped, altered, other }) => [
      verifyXEdDSA(pubKey, message, signature),
      verifyXEdDSA(pubKey.subarray(1), message, signature),
      verifyXEdDSA(pubKey, altered, signature),
      verifyXEdDSA(pubKey, message, flipped),
      verifyXEdDSA(other, message, signature),
    ]);
    // Assess
    expect(judged.map(([valid, bare]) => [valid, bare])).toEqual(cases.map(() => [true, true]));
    expect(judged.map((row) => row.slice(2))).toEqual(cases.map(({ pubKey, message, signature, flipped, altered, other }) => [theirs(pubKey, altered, signature), theirs(pubKey, message, flipped), theirs(other, message, signature)]));
    expect(judged.flatMap((row) => row.slice(2)).every((verdict) => verdict === false)).toBe(true);
  });

  it('a key met again (its Edwards form kept from the first time) is judged as the first time, past the cache\'s bound too', () => {
    // Prepare: one signer, its signatures of two messages, one with the sign bit flipped; then 20 other keys
    const { pubKey, privKey } = libsignal.generateKeyPair();
    const [first, second] = [randomBytes(40), randomBytes(41)];
    const signatures = [libsignal.calculateSignature(privKey, first), libsignal.calculateSignature(privKey, second)];
    const signFlipped = Buffer.from(signatures[1]!);
    signFlipped[63]! ^= 0x80;
    const others = Array.from({ length: 20 }, () => libsignal.generateKeyPair());
    // Act
    const verdicts = [
      verifyXEdDSA(pubKey, first, signatures[0]!),
      verifyXEdDSA(pubKey, second, signatures[1]!),
      verifyXEdDSA(pubKey, second, signFlipped),
      verifyXEdDSA(pubKey, first, signatures[1]!),
      ...others.map(({ pubKey: key, privKey: signer }) => verifyXEdDSA(key, first, libsignal.calculateSignature(signer, first))),
      verifyXEdDSA(pubKey, second, signatures[1]!),
      verifyXEdDSA(pubKey, second, signFlipped),
    ];
    // Assess
    expect(verdicts).toEqual([true, true, false, false, ...others.map(() => true), true, false]);
  });

  it('refuses malformed keys and signatures instead of throwing', () => {
    // Prepare
    const { pubKey, privKey } = libsignal.generateKeyPair();
    const message = randomBytes(32);
    const signature = libsignal.calculateSignature(privKey, message);
    // Act / Assess
    expect(verifyXEdDSA(pubKey.subarray(2), message, signature)).toBe(false);
    expect(verifyXEdDSA(pubKey, message, signature.subarray(1))).toBe(false);
    expect(verifyXEdDSA(Buffer.alloc(32, 0xff), message, signature)).toBe(false);
  });

  it('is the check Baileys\' handshake calls once the WhatsApp adapter is loaded', async () => {
    // Act
    await import('../../../lib/whatsapp/wa-socket.js');
    // Assess
    expect(Curve.verify).toBe(verifyXEdDSA);
  });

  it('a root trusted in the process (tests, the local runner) is the one a module graph of its own checks against at its next connection', async () => {
    // Prepare: WhatsApp's own root, as a fresh graph's Baileys has it; a simulator-like root trusted in the process
    const whatsapps = Buffer.from(WA_CERT_DETAILS.PUBLIC_KEY);
    const simulators = libsignal.generateKeyPair().pubKey.subarray(1);
    let inner: { baileys: typeof import('@whiskeysockets/baileys'); applyProcessRoot: () => void } | undefined;
    try {
      trustRootInProcess(simulators);
      // Act
      await jest.isolateModulesAsync(async () => {
        inner = { baileys: await import('@whiskeysockets/baileys'), applyProcessRoot: (await import('../../../lib/whatsapp/certificate-signature.js')).applyProcessRoot };
      });
      const before = Buffer.from(inner!.baileys.WA_CERT_DETAILS.PUBLIC_KEY);
      inner!.applyProcessRoot();
      // Assess
      expect(before.equals(simulators)).toBe(false);
      expect(Buffer.from(inner!.baileys.WA_CERT_DETAILS.PUBLIC_KEY).equals(simulators)).toBe(true);
    } finally {
      trustRootInProcess(whatsapps);
    }
  });
});
