/** The account's primary phone as a Signal party (libsignal 6.0.0, the library Baileys uses): it opens sessions to the
 *  companion devices from the pre-keys they uploaded and encrypts messages (e.g. the app-state key share) to them. */
import { randomBytes, randomInt } from 'node:crypto';
import { ProtocolAddress, SessionBuilder, SessionCipher, SessionRecord, type SignalStorage } from 'libsignal';
import { calculateSignature, generateKeyPair as generateSignalKeyPair } from 'libsignal/src/curve.js';
import { proto, type BinaryNode } from '@whiskeysockets/baileys';
import { verifySignature, type KeyPair } from './curve25519.js';

/** A device's key bundle as the server keeps it: 32-byte keys (a 33-byte 0x05-prefixed form is accepted too). */
export interface PreKeyBundle {
  registrationId: number;
  identityKey: Uint8Array;
  signedPreKey: { keyId: number; publicKey: Uint8Array; signature: Uint8Array };
  preKey?: { keyId: number; publicKey: Uint8Array };
}
export interface SignalAddress { user: string; device: number }
export interface EncryptedPayload { type: 'pkmsg' | 'msg'; body: Uint8Array }

const KEY_TYPE = 0x05;
/** libsignal wants Curve25519 public keys with the 0x05 type byte; WhatsApp stanzas carry them bare (32 bytes). */
const signalKey = (key: Uint8Array) => Buffer.from(key.length === 33 ? key : [KEY_TYPE, ...key]);
const keyPair = (pair: KeyPair) => ({ pubKey: signalKey(pair.public), privKey: Buffer.from(pair.private) });
const newKeyPair = (): KeyPair => {
  const { pubKey, privKey } = generateSignalKeyPair();
  return { public: Buffer.from(pubKey.subarray(1)), private: Buffer.from(privKey) };
};

export class PhoneSignal {
  readonly identity: KeyPair;
  readonly registrationId = randomInt(1, 16380);
  private signed?: { keyId: number; keyPair: KeyPair; signature: Uint8Array };
  private readonly preKeys = new Map<number, KeyPair>();
  private readonly sessions = new Map<string, Uint8Array>();
  private nextPreKeyId = 1;
  private readonly storage: SignalStorage;

  /** identity: the account (ADV) key pair, so the phone's Signal identity is the key that signed the device list. */
  constructor(readonly phoneNumber: string, identity: KeyPair = newKeyPair()) {
    this.identity = identity;
    this.storage = {
      loadSession: async (id) => (this.sessions.has(id) ? SessionRecord.deserialize(this.sessions.get(id)!) : undefined),
      storeSession: async (id, record) => void this.sessions.set(id, record.serialize()),
      isTrustedIdentity: () => true, // trust on first use, as WhatsApp clients do
      loadPreKey: async (id) => {
        const pair = this.preKeys.get(Number(id));
        return pair && keyPair(pair);
      },
      removePreKey: (id) => void this.preKeys.delete(Number(id)),
      loadSignedPreKey: () => keyPair(this.signedPreKey.keyPair),
      getOurRegistrationId: () => this.registrationId,
      getOurIdentity: () => keyPair(this.identity),
    };
  }

  /** Made on first use: signing is slow (libsignal signs in JavaScript), and a party that only sends never needs it. */
  private get signedPreKey(): { keyId: number; keyPair: KeyPair; signature: Uint8Array } {
    if (!this.signed) {
      const pair = newKeyPair();
      this.signed = { keyId: 1, keyPair: pair, signature: calculateSignature(this.identity.private, signalKey(pair.public)) };
    }
    return this.signed;
  }

  hasSession(address: SignalAddress): boolean {
    return this.sessions.has(signalAddress(address).toString());
  }

  /** Signal-encrypt to a device; `bundle` (its uploaded keys) is needed only while no session exists with it.
   *  Until that device answers, every message stays a pkmsg (libsignal resends the pre-key header). */
  async encryptFor(address: SignalAddress, bundle: PreKeyBundle | undefined, plaintext: Uint8Array): Promise<EncryptedPayload> {
    const addr = signalAddress(address);
    if (!this.hasSession(address)) {
      if (!bundle) throw new Error(`no Signal session with ${addr.toString()} and no pre-key bundle`);
      // libsignal 6 skips this check when building an outgoing session (verifySignature(…, isInit) returns true)
      if (!verifySignature(bundle.identityKey, signalKey(bundle.signedPreKey.publicKey), bundle.signedPreKey.signature)) {
        throw new Error(`signed pre-key signature of ${addr.toString()} does not verify`);
      }
      await new SessionBuilder(this.storage, addr).initOutgoing({
        registrationId: bundle.registrationId,
        identityKey: signalKey(bundle.identityKey),
        signedPreKey: { ...bundle.signedPreKey, publicKey: signalKey(bundle.signedPreKey.publicKey), signature: Buffer.from(bundle.signedPreKey.signature) },
        // libsignal accepts a bundle without a one-time pre-key (its .d.ts says otherwise)
        preKey: bundle.preKey && { keyId: bundle.preKey.keyId, publicKey: signalKey(bundle.preKey.publicKey) },
      } as Parameters<SessionBuilder['initOutgoing']>[0]);
    }
    const { type, body } = await new SessionCipher(this.storage, addr).encrypt(Buffer.from(plaintext));
    return { type: type === 3 ? 'pkmsg' : 'msg', body: Buffer.from(body, 'binary') };
  }

  /** As if the device had answered once: later messages are plain `msg` (libsignal drops the pre-key header once the
   *  other side has replied). The device must decrypt the earlier pkmsg first, as it does for an ordered queue. */
  acknowledgeSession(address: SignalAddress): void {
    const id = signalAddress(address).toString();
    const serialized = this.sessions.get(id);
    if (!serialized) return;
    const record = SessionRecord.deserialize(serialized);
    const session = (record as unknown as { getOpenSession(): { pendingPreKey?: unknown } | undefined }).getOpenSession();
    if (!session?.pendingPreKey) return;
    delete session.pendingPreKey;
    this.sessions.set(id, record.serialize());
  }

  /** Decrypt what a device sent to the phone; returns the plaintext without WhatsApp's random padding. */
  async decryptFrom(address: SignalAddress, enc: EncryptedPayload): Promise<Uint8Array> {
    const cipher = new SessionCipher(this.storage, signalAddress(address));
    const body = Buffer.from(enc.body);
    const padded = enc.type === 'pkmsg' ? await cipher.decryptPreKeyWhisperMessage(body) : await cipher.decryptWhisperMessage(body);
    return unpad(padded);
  }

  /** A bundle of the phone's own keys (one fresh one-time pre-key each call), for devices that open a session to it. */
  preKeyBundle(): Required<PreKeyBundle> {
    const keyId = this.nextPreKeyId++;
    const pair = newKeyPair();
    this.preKeys.set(keyId, pair);
    const { keyId: signedId, keyPair: signed, signature } = this.signedPreKey;
    return {
      registrationId: this.registrationId,
      identityKey: this.identity.public,
      signedPreKey: { keyId: signedId, publicKey: signed.public, signature },
      preKey: { keyId, publicKey: pair.public },
    };
  }
}

const signalAddress = ({ user, device }: SignalAddress) => new ProtocolAddress(user, device);

/** WhatsApp pads every Signal plaintext with p = 1..16 bytes of value p. */
export function pad(message: Uint8Array): Uint8Array {
  const p = (randomBytes(1)[0] & 0x0f) + 1;
  return Buffer.concat([message, Buffer.alloc(p, p)]);
}

export function unpad(padded: Uint8Array): Uint8Array {
  const p = padded[padded.length - 1];
  if (!padded.length || p < 1 || p > 16 || p > padded.length) throw new Error('invalid message padding');
  return padded.subarray(0, padded.length - p);
}

export interface AppStateKeyShare {
  keyId: Uint8Array;
  keyData: Uint8Array;
  fingerprint?: { rawId?: number; currentIndex?: number; deviceIndexes?: number[] };
  timestamp: number;
}

/** Padded proto.Message carrying an APP_STATE_SYNC_KEY_SHARE (Baileys makes the LAST key its myAppStateKeyId). */
export function buildKeyShareMessage(keys: AppStateKeyShare[]): Uint8Array {
  return pad(proto.Message.encode({
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE,
      appStateSyncKeyShare: {
        keys: keys.map(({ keyId, keyData, fingerprint, timestamp }) => ({ keyId: { keyId }, keyData: { keyData, fingerprint, timestamp } })),
      },
    },
  }).finish());
}

/** Padded proto.Message { conversation } — a plain text message. */
export function textMessage(text: string): Uint8Array {
  return pad(proto.Message.encode({ conversation: text }).finish());
}

/** The <message> stanza that delivers a Signal payload. Baileys accepts self-only content (the key share) only when the
 *  user part of `from` is its own number or LID. `offline` marks a queued delivery; with category "peer" even an
 *  undecryptable message is receipted as peer_msg (and lost). */
export function messageNode(opts: { from: string; id: string; t: number; enc: EncryptedPayload; offline?: boolean; category?: 'peer' }): BinaryNode {
  return {
    tag: 'message',
    attrs: {
      from: opts.from,
      id: opts.id,
      t: String(opts.t),
      type: 'text',
      ...(opts.category && { category: opts.category }),
      ...(opts.offline && { offline: '1' }),
    },
    content: [{ tag: 'enc', attrs: { v: '2', type: opts.enc.type }, content: opts.enc.body }],
  };
}
