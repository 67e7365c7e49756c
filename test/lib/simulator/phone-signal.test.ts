import { describe, expect, it } from '@jest/globals';
import {
  addTransactionCapability, decryptMessageNode, encodeWAMessage, generateOrGetPreKeys, initAuthCreds, proto, unpadRandomMax16,
  type AuthenticationCreds, type BaileysEventEmitter, type SignalKeyStore,
} from '@whiskeysockets/baileys';
import { makeLibSignalRepository } from '@whiskeysockets/baileys/lib/Signal/libsignal.js';
import type { ILogger } from '@whiskeysockets/baileys/lib/Utils/logger.js';
import processMessage from '@whiskeysockets/baileys/lib/Utils/process-message.js';
import { buildKeyShareMessage, messageNode, PhoneSignal, textMessage, type PreKeyBundle } from '../../../lib/simulator/phone-signal.js';

const PHONE = '15550001111';
const LID = '99887766554433';
const DEVICE = 3;
const silent: ILogger = { level: 'silent', child: () => silent, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** A freshly linked Baileys companion: creds, 5 uploaded pre-keys in an in-memory key store, its Signal repository,
 *  and the bundle the server would hand the phone. */
function baileysCompanion() {
  const creds: AuthenticationCreds = { ...initAuthCreds(), me: { id: `${PHONE}:${DEVICE}@s.whatsapp.net`, lid: `${LID}:${DEVICE}@lid` } };
  const data: Record<string, Record<string, unknown>> = {};
  const store: SignalKeyStore = {
    get: (type, ids) => Object.fromEntries(ids.filter(id => data[type]?.[id] != null).map(id => [id, data[type][id]])) as never,
    set: (changes) => {
      for (const [type, entries] of Object.entries(changes)) {
        for (const [id, value] of Object.entries(entries ?? {})) {
          data[type] ??= {};
          if (value == null) delete data[type][id];
          else data[type][id] = value;
        }
      }
    },
  };
  const keys = addTransactionCapability(store, silent, { maxCommitRetries: 1, delayBetweenTriesMs: 1 });
  const { newPreKeys } = generateOrGetPreKeys(creds, 5);
  data['pre-key'] = { ...newPreKeys };
  const bundle: PreKeyBundle = {
    registrationId: creds.registrationId,
    identityKey: creds.signedIdentityKey.public,
    signedPreKey: { keyId: creds.signedPreKey.keyId, publicKey: creds.signedPreKey.keyPair.public, signature: creds.signedPreKey.signature },
    preKey: { keyId: 1, publicKey: newPreKeys[1].public },
  };
  return { creds, data, keys, bundle, repository: makeLibSignalRepository({ creds, keys }, silent) };
}

const companionAddress = { user: PHONE, device: DEVICE };
const phoneJid = `${PHONE}@s.whatsapp.net`;
const decodeText = (plaintext: Uint8Array) => proto.Message.decode(unpadRandomMax16(plaintext)).conversation;

describe('PhoneSignal', () => {
  it('opens a session from the companion bundle: Baileys decrypts pkmsg, then msg once the companion has answered', async () => {
    // Prepare
    const companion = baileysCompanion();
    const phone = new PhoneSignal(PHONE);

    // Act
    const first = await phone.encryptFor(companionAddress, companion.bundle, textMessage('first'));
    const second = await phone.encryptFor(companionAddress, undefined, textMessage('second'));
    const firstPlain = await companion.repository.decryptMessage({ jid: phoneJid, type: first.type, ciphertext: first.body });
    const secondPlain = await companion.repository.decryptMessage({ jid: phoneJid, type: second.type, ciphertext: second.body });
    const reply = await companion.repository.encryptMessage({ jid: phoneJid, data: encodeWAMessage({ conversation: 'reply' }) });
    const replyPlain = await phone.decryptFrom(companionAddress, { type: reply.type, body: reply.ciphertext });
    const third = await phone.encryptFor(companionAddress, undefined, textMessage('third'));
    const thirdPlain = await companion.repository.decryptMessage({ jid: phoneJid, type: third.type, ciphertext: third.body });

    // Assess
    expect([first.type, second.type, reply.type, third.type]).toEqual(['pkmsg', 'pkmsg', 'msg', 'msg']);
    expect([decodeText(firstPlain), decodeText(secondPlain), decodeText(thirdPlain)]).toEqual(['first', 'second', 'third']);
    expect(proto.Message.decode(replyPlain).conversation).toBe('reply');
    expect(companion.data['pre-key']['1']).toBeUndefined(); // the one-time pre-key was consumed
  });

  it('works without a one-time pre-key and accepts 33-byte 0x05-prefixed keys', async () => {
    // Prepare
    const companion = baileysCompanion();
    const phone = new PhoneSignal(PHONE);
    const { preKey: _unused, ...bundle } = companion.bundle;
    const prefixed = { ...bundle, identityKey: Buffer.concat([Buffer.from([5]), bundle.identityKey]) };

    // Act
    const enc = await phone.encryptFor(companionAddress, prefixed, textMessage('no pre-key'));
    const plain = await companion.repository.decryptMessage({ jid: phoneJid, type: enc.type, ciphertext: enc.body });

    // Assess
    expect(enc.type).toBe('pkmsg');
    expect(decodeText(plain)).toBe('no pre-key');
  });

  it('refuses a bundle whose signed pre-key signature is wrong, and a first message without a bundle', async () => {
    // Prepare
    const companion = baileysCompanion();
    const phone = new PhoneSignal(PHONE);
    const signature = Buffer.from(companion.bundle.signedPreKey.signature);
    signature[5] ^= 0x01;
    const forged = { ...companion.bundle, signedPreKey: { ...companion.bundle.signedPreKey, signature } };

    // Act
    const withForged = await phone.encryptFor(companionAddress, forged, textMessage('x')).catch((error: Error) => error);
    const withoutBundle = await phone.encryptFor({ user: PHONE, device: 9 }, undefined, textMessage('x')).catch((error: Error) => error);

    // Assess
    expect(withForged).toBeInstanceOf(Error);
    expect((withForged as Error).message).toMatch(/signature/i);
    expect((withoutBundle as Error).message).toMatch(/no Signal session/);
    expect(phone.hasSession(companionAddress)).toBe(false);
  });

  it('hands out its own bundle so a companion can open a session to the phone (pkmsg the phone decrypts)', async () => {
    // Prepare
    const companion = baileysCompanion();
    const phone = new PhoneSignal(PHONE);
    const bundle = phone.preKeyBundle();
    await companion.repository.injectE2ESession({
      jid: phoneJid,
      session: {
        registrationId: bundle.registrationId,
        identityKey: Buffer.concat([Buffer.from([5]), bundle.identityKey]),
        signedPreKey: { ...bundle.signedPreKey, publicKey: Buffer.concat([Buffer.from([5]), bundle.signedPreKey.publicKey]) },
        preKey: { ...bundle.preKey, publicKey: Buffer.concat([Buffer.from([5]), bundle.preKey.publicKey]) },
      },
    });

    // Act
    const enc = await companion.repository.encryptMessage({ jid: phoneJid, data: encodeWAMessage({ conversation: 'to the phone' }) });
    const plain = await phone.decryptFrom(companionAddress, { type: enc.type, body: enc.ciphertext });
    const answer = await phone.encryptFor(companionAddress, undefined, textMessage('answer'));
    const answerPlain = await companion.repository.decryptMessage({ jid: phoneJid, type: answer.type, ciphertext: answer.body });

    // Assess
    expect(enc.type).toBe('pkmsg');
    expect(proto.Message.decode(plain).conversation).toBe('to the phone');
    expect(answer.type).toBe('msg');
    expect(decodeText(answerPlain)).toBe('answer');
    expect(phone.preKeyBundle().preKey.keyId).toBe(bundle.preKey.keyId + 1);
  });

  it('delivers an app-state key share that Baileys takes as its own and stores, the last key becoming myAppStateKeyId', async () => {
    // Prepare
    const companion = baileysCompanion();
    const phone = new PhoneSignal(PHONE);
    const keys = [1, 2].map(n => ({ keyId: Buffer.from([0, 0, 0, n, 0, 0]), keyData: Buffer.alloc(32, n), fingerprint: { rawId: 7, currentIndex: n, deviceIndexes: [0, DEVICE] }, timestamp: 1_700_000_000 + n }));
    const enc = await phone.encryptFor(companionAddress, companion.bundle, buildKeyShareMessage(keys));
    const node = messageNode({ from: phoneJid, id: '3EB0KEYSHARE', t: 1_700_000_100, enc, offline: true });
    const events: Array<[string, unknown]> = [];
    const ev = { emit: (name: string, payload: unknown) => events.push([name, payload]) } as unknown as BaileysEventEmitter;

    // Act
    const decoded = decryptMessageNode(node, companion.creds.me!.id, companion.creds.me!.lid!, companion.repository, silent);
    await decoded.decrypt();
    await processMessage(decoded.fullMessage, {
      shouldProcessHistoryMsg: false, creds: companion.creds, keyStore: companion.keys, ev, logger: silent, options: {},
      signalRepository: companion.repository, getMessage: async () => undefined,
    });

    // Assess
    expect(node.attrs).toMatchObject({ from: phoneJid, offline: '1', type: 'text', t: '1700000100' });
    expect(decoded.fullMessage.key.fromMe).toBe(true);
    expect(decoded.fullMessage.messageStubType).toBeUndefined();
    const share = decoded.fullMessage.message?.protocolMessage;
    expect(share?.type).toBe(proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE);
    expect(share?.appStateSyncKeyShare?.keys?.map(k => [Buffer.from(k.keyId!.keyId!), Buffer.from(k.keyData!.keyData!), Number(k.keyData!.timestamp)]))
      .toEqual(keys.map(k => [k.keyId, k.keyData, k.timestamp]));
    expect(share?.appStateSyncKeyShare?.keys?.[1].keyData?.fingerprint).toMatchObject({ rawId: 7, currentIndex: 2, deviceIndexes: [0, DEVICE] });
    const stored = companion.data['app-state-sync-key'] as Record<string, proto.Message.IAppStateSyncKeyData>;
    expect(Object.keys(stored).sort()).toEqual(keys.map(k => k.keyId.toString('base64')).sort());
    expect(Buffer.from(stored[keys[1].keyId.toString('base64')].keyData!)).toEqual(keys[1].keyData);
    expect(events).toContainEqual(['creds.update', { myAppStateKeyId: keys[1].keyId.toString('base64') }]);
  });

  it('is refused by Baileys as spoofed when sent from another number', async () => {
    // Prepare
    const companion = baileysCompanion();
    const stranger = new PhoneSignal('15559999999');
    const keyId = Buffer.from([0, 0, 0, 9, 0, 0]);
    const enc = await stranger.encryptFor(companionAddress, companion.bundle, buildKeyShareMessage([{ keyId, keyData: Buffer.alloc(32, 9), timestamp: 1 }]));
    const node = messageNode({ from: '15559999999@s.whatsapp.net', id: '3EB0SPOOF', t: 1, enc, category: 'peer' });
    const events: unknown[] = [];
    const ev = { emit: (...args: unknown[]) => events.push(args) } as unknown as BaileysEventEmitter;

    // Act
    const decoded = decryptMessageNode(node, companion.creds.me!.id, companion.creds.me!.lid!, companion.repository, silent);
    await decoded.decrypt();
    await processMessage(decoded.fullMessage, {
      shouldProcessHistoryMsg: false, creds: companion.creds, keyStore: companion.keys, ev, logger: silent, options: {},
      signalRepository: companion.repository, getMessage: async () => undefined,
    });

    // Assess
    expect(node.attrs.category).toBe('peer');
    expect(decoded.fullMessage.message?.protocolMessage?.appStateSyncKeyShare?.keys).toHaveLength(1); // it did decrypt
    expect(decoded.fullMessage.key.fromMe).toBe(false);
    expect(companion.data['app-state-sync-key']).toBeUndefined();
    expect(events).not.toContainEqual(['creds.update', expect.objectContaining({ myAppStateKeyId: expect.anything() })]);
  });
});
