/**
 * Noise XX responder as WhatsApp runs it (Noise_XX_25519_AESGCM_SHA256): intro header (plain `WA 06 03` or
 * `ED 00 01` + routing info), 3-byte length framing, handshake, then AES-256-GCM transport with counter IVs.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { proto } from '@whiskeysockets/baileys';
import { generateKeyPair, sharedKey, type KeyPair } from './curve25519.js';
import type { ServerIdentity } from './cert-chain.js';

const NOISE_MODE = Buffer.from('Noise_XX_25519_AESGCM_SHA256\0\0\0\0');
const WA_HEADER_LENGTH = 4;

const iv = (counter: number) => {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(counter, 8);
  return bytes;
};
const seal = (key: Uint8Array, counter: number, plaintext: Uint8Array, aad: Uint8Array) => {
  const cipher = createCipheriv('aes-256-gcm', key, iv(counter)).setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
};
const open = (key: Uint8Array, counter: number, ciphertext: Uint8Array, aad: Uint8Array) => {
  const decipher = createDecipheriv('aes-256-gcm', key, iv(counter)).setAAD(aad);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  return Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
};
const hkdf64 = (ikm: Uint8Array, salt: Uint8Array) => Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.alloc(0), 64));

export class NoiseHandshakeError extends Error {}

export interface ClientHelloInfo { header: Buffer; routingInfo?: Buffer; ephemeral: Buffer }

/** One connection's Noise state (responder side). */
export class NoiseResponder {
  private inBytes = Buffer.alloc(0);
  private introRead = false;
  private hash = Buffer.from(NOISE_MODE);
  private chainingKey = Buffer.from(NOISE_MODE);
  private key = Buffer.from(NOISE_MODE);
  private counter = 0;
  private ephemeral: KeyPair = generateKeyPair();
  private transport?: { send: Buffer; receive: Buffer; sendCounter: number; receiveCounter: number };
  routingInfo?: Buffer;
  clientStatic?: Buffer;

  constructor(private readonly identity: ServerIdentity) {}

  get established(): boolean { return !!this.transport }

  /** Splits incoming bytes into frames (the first one after the intro header). */
  push(data: Uint8Array): Buffer[] {
    this.inBytes = Buffer.concat([this.inBytes, data]);
    if (!this.introRead) {
      const routed = this.inBytes.subarray(0, 2).toString() === 'ED';
      const routingLength = routed ? (this.inBytes[4] << 16) | this.inBytes.readUInt16BE(5) : 0;
      const headerStart = routed ? 7 + routingLength : 0;
      if (this.inBytes.length < headerStart + WA_HEADER_LENGTH) return [];
      const header = this.inBytes.subarray(headerStart, headerStart + WA_HEADER_LENGTH);
      if (header.subarray(0, 2).toString() !== 'WA') throw new NoiseHandshakeError('bad intro header');
      if (routed) this.routingInfo = Buffer.from(this.inBytes.subarray(7, headerStart));
      this.mixHash(header);
      this.inBytes = this.inBytes.subarray(headerStart + WA_HEADER_LENGTH);
      this.introRead = true;
    }
    const frames: Buffer[] = [];
    while (this.inBytes.length >= 3) {
      const size = (this.inBytes[0] << 16) | this.inBytes.readUInt16BE(1);
      if (this.inBytes.length < size + 3) break;
      frames.push(Buffer.from(this.inBytes.subarray(3, size + 3)));
      this.inBytes = this.inBytes.subarray(size + 3);
    }
    return frames;
  }

  /** ClientHello → ServerHello frame bytes (ephemeral, encrypted static key, encrypted certificate chain). */
  respondToHello(frame: Uint8Array): Buffer {
    const ephemeral = proto.HandshakeMessage.decode(frame).clientHello?.ephemeral;
    if (!ephemeral || ephemeral.length !== 32) throw new NoiseHandshakeError('client hello without a 32-byte ephemeral key');
    this.mixHash(ephemeral);
    this.mixHash(this.ephemeral.public);
    this.mixKey(sharedKey(this.ephemeral.private, ephemeral));
    const encryptedStatic = this.encrypt(this.identity.staticKey.public);
    this.mixKey(sharedKey(this.identity.staticKey.private, ephemeral));
    const payload = this.encrypt(this.identity.certChain);
    this.clientEphemeral = Buffer.from(ephemeral);
    return this.frame(proto.HandshakeMessage.encode({ serverHello: { ephemeral: this.ephemeral.public, static: encryptedStatic, payload } }).finish());
  }
  private clientEphemeral?: Buffer;

  /** ClientFinish → the decrypted ClientPayload; switches to transport mode. */
  readFinish(frame: Uint8Array): proto.ClientPayload {
    const finish = proto.HandshakeMessage.decode(frame).clientFinish;
    if (!finish?.static || !finish.payload || !this.clientEphemeral) throw new NoiseHandshakeError('client finish missing');
    try {
      this.clientStatic = this.decrypt(finish.static);
      this.mixKey(sharedKey(this.ephemeral.private, this.clientStatic));
      const payload = proto.ClientPayload.decode(this.decrypt(finish.payload));
      const keys = hkdf64(Buffer.alloc(0), this.chainingKey);
      this.transport = { receive: keys.subarray(0, 32), send: keys.subarray(32), sendCounter: 0, receiveCounter: 0 };
      return payload;
    } catch (error) {
      throw new NoiseHandshakeError(`client finish rejected: ${(error as Error).message}`);
    }
  }

  /** Transport: decrypts one frame (flags byte + binary node). */
  decryptFrame(frame: Uint8Array): Buffer {
    if (!this.transport) throw new NoiseHandshakeError('transport not established');
    return open(this.transport.receive, this.transport.receiveCounter++, frame, Buffer.alloc(0));
  }

  /** Transport: encrypts and frames (3-byte length) one encoded binary node. */
  encryptFrame(plaintext: Uint8Array): Buffer {
    if (!this.transport) throw new NoiseHandshakeError('transport not established');
    return this.frame(seal(this.transport.send, this.transport.sendCounter++, plaintext, Buffer.alloc(0)));
  }

  private frame(data: Uint8Array): Buffer {
    const out = Buffer.alloc(3 + data.length);
    out[0] = (data.length >>> 16) & 0xff;
    out.writeUInt16BE(data.length & 0xffff, 1);
    out.set(data, 3);
    return out;
  }
  private mixHash(data: Uint8Array) { this.hash = createHash('sha256').update(this.hash).update(data).digest() }
  private mixKey(material: Uint8Array) {
    const out = hkdf64(material, this.chainingKey);
    this.chainingKey = out.subarray(0, 32);
    this.key = out.subarray(32);
    this.counter = 0;
  }
  private encrypt(plaintext: Uint8Array) {
    const ciphertext = seal(this.key, this.counter++, plaintext, this.hash);
    this.mixHash(ciphertext);
    return ciphertext;
  }
  private decrypt(ciphertext: Uint8Array) {
    const plaintext = open(this.key, this.counter++, ciphertext, this.hash);
    this.mixHash(ciphertext);
    return plaintext;
  }
}
