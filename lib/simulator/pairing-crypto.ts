/** The phone's side of linking a companion device: QR scan → <pair-success>, the companion's <pair-device-sign> check,
 *  and the pairing-code (link_code_companion_reg) key exchange. Signatures are checked with ./curve25519.js (node:crypto). */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, pbkdf2, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { getBinaryNodeChild, getBinaryNodeChildBuffer, getBinaryNodeChildString, proto, type BinaryNode } from '@whiskeysockets/baileys';
import { generateKeyPair, sharedKey, sign, verifySignature, type KeyPair } from './curve25519.js';

const ACCOUNT_SIG_PREFIX = Buffer.from([6, 0]);
const DEVICE_SIG_PREFIX = Buffer.from([6, 1]);
const QR_PREFIX = 'https://wa.me/settings/linked_devices#';

export interface QrData { ref: string; noisePublicKey: Uint8Array; identityPublicKey: Uint8Array; advSecret: Uint8Array; platformId: string }

/** Baileys' QR string: [https://wa.me/settings/linked_devices#]ref,noiseKey b64,identityKey b64,advSecret b64,platform id. */
export function parseQr(qr: string): QrData {
  const parts = (qr.startsWith(QR_PREFIX) ? qr.slice(QR_PREFIX.length) : qr).split(',');
  if (parts.length !== 5) throw new Error(`QR string has ${parts.length} fields, expected 5`);
  const [ref, noise, identity, adv, platformId] = parts;
  const key = (b64: string, name: string) => {
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length !== 32) throw new Error(`QR ${name} is ${bytes.length} bytes, expected 32`);
    return bytes;
  };
  return { ref, noisePublicKey: key(noise, 'noise key'), identityPublicKey: key(identity, 'identity key'), advSecret: key(adv, 'adv secret'), platformId };
}

const userOf = (jidOrUser: string) => jidOrUser.split('@')[0].split(':')[0];

export interface PairSuccessInput {
  phoneNumber: string;
  /** the account's LID, as a user part or a jid */
  lid: string;
  deviceId: number;
  companionIdentityPub: Uint8Array;
  advSecret: Uint8Array;
  /** the account (ADV) key pair of the primary phone */
  accountKeyPair: KeyPair;
  /** the primary phone's platform, stored by Baileys as creds.platform */
  platform: string;
  /** index of this device in the account's key index list; defaults to deviceId */
  keyIndex?: number;
  id?: string;
  t?: number;
}

/** <iq type="set"><pair-success> as the server relays it after the phone scanned: ADVSignedDeviceIdentityHMAC whose
 *  details carry the account signature over [6,0] ‖ ADVDeviceIdentity ‖ companion identity key. */
export function buildPairSuccess(input: PairSuccessInput): BinaryNode {
  const details = proto.ADVDeviceIdentity.encode({
    rawId: randomInt(1, 2 ** 31),
    timestamp: input.t ?? Math.floor(Date.now() / 1000),
    keyIndex: input.keyIndex ?? input.deviceId,
    accountType: proto.ADVEncryptionType.E2EE,
    deviceType: proto.ADVEncryptionType.E2EE,
  }).finish();
  const signed = proto.ADVSignedDeviceIdentity.encode({
    details,
    accountSignatureKey: input.accountKeyPair.public,
    accountSignature: sign(input.accountKeyPair.private, Buffer.concat([ACCOUNT_SIG_PREFIX, details, input.companionIdentityPub])),
  }).finish();
  const hmac = createHmac('sha256', input.advSecret).update(signed).digest();
  const device = `${input.deviceId}`;
  return {
    tag: 'iq',
    attrs: { from: 's.whatsapp.net', type: 'set', xmlns: 'md', id: input.id ?? randomBytes(8).toString('hex'), t: String(input.t ?? Math.floor(Date.now() / 1000)) },
    content: [{
      tag: 'pair-success',
      attrs: {},
      content: [
        { tag: 'device-identity', attrs: {}, content: proto.ADVSignedDeviceIdentityHMAC.encode({ details: signed, hmac }).finish() },
        { tag: 'platform', attrs: { name: input.platform } },
        { tag: 'device', attrs: { jid: `${userOf(input.phoneNumber)}:${device}@s.whatsapp.net`, lid: `${userOf(input.lid)}:${device}@lid` } },
      ],
    }],
  };
}

export type PairDeviceSignCheck = { ok: true; keyIndex: number } | { ok: false; reason: string };

/** Checks the companion's reply <iq type="result"><pair-device-sign><device-identity key-index> (an ADVSignedDeviceIdentity
 *  without the account key): the account signature is still ours and the device signature over
 *  [6,1] ‖ details ‖ companion identity key ‖ account key verifies with the companion identity key. */
export function verifyPairDeviceSign(node: BinaryNode, expected: { companionIdentityPub: Uint8Array; accountPublicKey: Uint8Array }): PairDeviceSignCheck {
  const identityNode = getBinaryNodeChild(getBinaryNodeChild(node, 'pair-device-sign'), 'device-identity');
  if (!(identityNode?.content instanceof Uint8Array)) return { ok: false, reason: 'missing pair-device-sign/device-identity' };
  let signed: proto.ADVSignedDeviceIdentity;
  let identity: proto.ADVDeviceIdentity;
  try {
    signed = proto.ADVSignedDeviceIdentity.decode(identityNode.content);
    identity = proto.ADVDeviceIdentity.decode(signed.details ?? new Uint8Array());
  } catch (error) {
    return { ok: false, reason: `undecodable device identity: ${(error as Error).message}` };
  }
  const { details, accountSignature, deviceSignature } = signed;
  if (!details?.length || !accountSignature?.length || !deviceSignature?.length) return { ok: false, reason: 'device identity lacks details or signatures' };
  if (String(identity.keyIndex) !== identityNode.attrs['key-index']) return { ok: false, reason: `key-index ${identityNode.attrs['key-index']} does not match ${identity.keyIndex}` };
  const { companionIdentityPub, accountPublicKey } = expected;
  if (!verifySignature(accountPublicKey, Buffer.concat([ACCOUNT_SIG_PREFIX, details, companionIdentityPub]), accountSignature)) {
    return { ok: false, reason: 'account signature does not match the identity the phone issued' };
  }
  if (!verifySignature(companionIdentityPub, Buffer.concat([DEVICE_SIG_PREFIX, details, companionIdentityPub, accountPublicKey]), deviceSignature)) {
    return { ok: false, reason: 'device signature invalid' };
  }
  return { ok: true, keyIndex: identity.keyIndex ?? 0 };
}

// ---- pairing code (link_code_companion_reg) ----

const PBKDF2_ITERATIONS = 2 << 16; // 131072
const pbkdf2Async = promisify(pbkdf2);
const codeKey = (code: string, salt: Uint8Array) => pbkdf2Async(code, salt, PBKDF2_ITERATIONS, 32, 'sha256');
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string) => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
const aesCtr = (key: Uint8Array, iv: Uint8Array, data: Uint8Array) => {
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
};

/** An ephemeral public key wrapped with the 8-character code: salt32 ‖ iv16 ‖ AES-256-CTR(PBKDF2-SHA256(code, salt, 131072)). */
export async function wrapWithCode(code: string, publicKey: Uint8Array): Promise<Uint8Array> {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  return Buffer.concat([salt, iv, aesCtr(await codeKey(code, salt), iv, publicKey)]);
}

/** Inverse of wrapWithCode. A wrong code cannot be detected here (CTR): it yields another 32-byte key, and the
 *  exchange fails later when the key bundle does not decrypt. */
export async function unwrapWithCode(code: string, wrapped: Uint8Array): Promise<Uint8Array> {
  if (wrapped.length !== 80) throw new Error(`wrapped ephemeral key is ${wrapped.length} bytes, expected 80`);
  return aesCtr(await codeKey(code, wrapped.subarray(0, 32)), wrapped.subarray(32, 48), wrapped.subarray(48));
}

export interface CompanionHello { companionJid: string; wrappedCompanionEphemeralPub: Uint8Array; companionServerAuthKeyPub: Uint8Array; platformId: string; platformDisplay: string }

/** The companion's <iq xmlns="md"><link_code_companion_reg stage="companion_hello">. */
export function parseCompanionHello(iq: BinaryNode): CompanionHello {
  const reg = getBinaryNodeChild(iq, 'link_code_companion_reg');
  if (reg?.attrs.stage !== 'companion_hello') throw new Error('not a link_code_companion_reg companion_hello');
  const required = <T>(tag: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`companion_hello lacks ${tag}`);
    return value;
  };
  const buffer = (tag: string) => Buffer.from(required(tag, getBinaryNodeChildBuffer(reg, tag)));
  const text = (tag: string) => required(tag, getBinaryNodeChildString(reg, tag));
  return {
    companionJid: reg.attrs.jid,
    wrappedCompanionEphemeralPub: buffer('link_code_pairing_wrapped_companion_ephemeral_pub'),
    companionServerAuthKeyPub: buffer('companion_server_auth_key_pub'),
    platformId: text('companion_platform_id'),
    platformDisplay: text('companion_platform_display'),
  };
}

export interface PairingCodeState { ref: Uint8Array; code: string; primaryEphemeral: KeyPair; companionEphemeralPub: Uint8Array; primaryIdentity: KeyPair }

/** The phone accepted the code typed on it: unwrap the companion's ephemeral key and build the notification the server
 *  pushes to the companion (ref, primary identity key, our ephemeral key wrapped with the same code). */
export async function answerCompanionHello(hello: CompanionHello, code: string, primaryIdentity: KeyPair): Promise<{ state: PairingCodeState; notification: BinaryNode }> {
  const state: PairingCodeState = {
    ref: randomBytes(32),
    code,
    primaryEphemeral: generateKeyPair(),
    companionEphemeralPub: await unwrapWithCode(code, hello.wrappedCompanionEphemeralPub),
    primaryIdentity,
  };
  const notification: BinaryNode = {
    tag: 'notification',
    attrs: { from: '@s.whatsapp.net', type: 'link_code_companion_reg', id: randomBytes(8).toString('hex'), t: String(Math.floor(Date.now() / 1000)) },
    content: [{
      tag: 'link_code_companion_reg',
      attrs: {},
      content: [
        { tag: 'link_code_pairing_ref', attrs: {}, content: state.ref },
        { tag: 'primary_identity_pub', attrs: {}, content: primaryIdentity.public },
        { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: await wrapWithCode(code, state.primaryEphemeral.public) },
      ],
    }],
  };
  return { state, notification };
}

/** The companion's stage="companion_finish": decrypts the key bundle (salt32 ‖ iv12 ‖ AES-256-GCM under
 *  HKDF(DH(ephemerals), salt, "link_code_pairing_key_bundle_encryption_key")) = companion identity ‖ primary identity ‖
 *  random32, and derives the adv secret HKDF(DH(ephemerals) ‖ DH(identities) ‖ random, no salt, "adv_secret").
 *  Throws when the bundle does not decrypt (wrong code) or names another primary identity. */
export function finishPairingCode(iq: BinaryNode, state: PairingCodeState): { companionIdentityPub: Uint8Array; advSecret: Uint8Array } {
  const reg = getBinaryNodeChild(iq, 'link_code_companion_reg');
  if (reg?.attrs.stage !== 'companion_finish') throw new Error('not a link_code_companion_reg companion_finish');
  const bundle = getBinaryNodeChildBuffer(reg, 'link_code_pairing_wrapped_key_bundle');
  const ref = getBinaryNodeChildBuffer(reg, 'link_code_pairing_ref');
  const companionIdentity = getBinaryNodeChildBuffer(reg, 'companion_identity_public');
  if (!bundle || bundle.length < 32 + 12 + 96 + 16) throw new Error('companion_finish lacks a key bundle');
  if (!ref || !timingSafeEqual(Buffer.from(ref), state.ref)) throw new Error('companion_finish names another pairing ref');
  const ephemeralShared = sharedKey(state.primaryEphemeral.private, state.companionEphemeralPub);
  const decipher = createDecipheriv('aes-256-gcm', hkdf(ephemeralShared, bundle.subarray(0, 32), 'link_code_pairing_key_bundle_encryption_key'), bundle.subarray(32, 44));
  decipher.setAuthTag(bundle.subarray(-16));
  const payload = Buffer.concat([decipher.update(bundle.subarray(44, -16)), decipher.final()]);
  if (payload.length !== 96) throw new Error(`key bundle is ${payload.length} bytes, expected 96`);
  const [companionIdentityPub, primaryIdentityPub, random] = [payload.subarray(0, 32), payload.subarray(32, 64), payload.subarray(64)];
  if (!primaryIdentityPub.equals(Buffer.from(state.primaryIdentity.public))) throw new Error('key bundle names another primary identity');
  if (!companionIdentity || !companionIdentityPub.equals(Buffer.from(companionIdentity))) throw new Error('companion_identity_public differs from the key bundle');
  const identityShared = sharedKey(state.primaryIdentity.private, companionIdentityPub);
  return { companionIdentityPub, advSecret: hkdf(Buffer.concat([ephemeralShared, identityShared, random]), Buffer.alloc(0), 'adv_secret') };
}
