import { describe, expect, it } from '@jest/globals';
import { Curve } from '@whiskeysockets/baileys';
import { generateKeyPair, sharedKey, sign, verifySignature } from '../../../lib/simulator/curve25519.js';

describe('curve25519 (node:crypto X25519 and XEdDSA verification)', () => {
  it('agrees on the same shared secret as libsignal/Baileys', () => {
    // Prepare
    const ours = generateKeyPair();
    const theirs = Curve.generateKeyPair();
    // Act
    const mine = sharedKey(ours.private, theirs.public);
    const baileys = Curve.sharedKey(theirs.private, ours.public);
    // Assess
    expect(Buffer.from(mine).equals(Buffer.from(baileys))).toBe(true);
  });

  it('verifies XEdDSA signatures made by Baileys and by itself, with 32- or 33-byte keys', () => {
    // Prepare
    const baileysKey = Curve.generateKeyPair();
    const ownKey = generateKeyPair();
    const message = Buffer.from('signed pre-key');
    // Act
    const fromBaileys = verifySignature(baileysKey.public, message, Curve.sign(baileysKey.private, message));
    const fromUs = Curve.verify(ownKey.public, message, sign(ownKey.private, message));
    const prefixed = verifySignature(Buffer.concat([Buffer.from([5]), ownKey.public]), message, sign(ownKey.private, message));
    // Assess
    expect([fromBaileys, fromUs, prefixed]).toEqual([true, true, true]);
  });

  it('rejects a flipped message byte, a flipped signature byte, another key and malformed input', () => {
    // Prepare
    const key = generateKeyPair();
    const message = Buffer.from('details');
    const signature = sign(key.private, message);
    const flip = (bytes: Uint8Array, index: number) => { const copy = Buffer.from(bytes); copy[index] ^= 1; return copy };
    // Act
    const results = [
      verifySignature(key.public, flip(message, 0), signature),
      verifySignature(key.public, message, flip(signature, 10)),
      verifySignature(key.public, message, flip(signature, 63)),
      verifySignature(generateKeyPair().public, message, signature),
      verifySignature(key.public.subarray(1), message, signature),
      verifySignature(key.public, message, signature.subarray(1)),
    ];
    // Assess
    expect(results).toEqual([false, false, false, false, false, false]);
  });
});
