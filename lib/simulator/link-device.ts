/** A companion device linked "earlier": Baileys creds and stored keys, with the server side registered from them. */
import { initAuthCreds, proto, type KeyPair as BaileysKeyPair } from '@whiskeysockets/baileys';
import { generateKeyPair, sign } from './curve25519.js';
import type { LinkedDevice } from './index.js';
import type { AccountRecord, Registry } from './registry.js';

const ACCOUNT_SIGNATURE_PREFIX = Buffer.from([6, 0]);
const DEVICE_SIGNATURE_PREFIX = Buffer.from([6, 1]);

/** The app-state-sync-key record as Baileys stores it (id = base64 key id). */
export function appStateKeyRecord(account: AccountRecord): { [id: string]: proto.Message.IAppStateSyncKeyData } {
  const { keyId, keyData, timestamp } = account.appStateKey;
  const fingerprint = { rawId: account.nextDevice, currentIndex: 0, deviceIndexes: [0] };
  return { [keyId.toString('base64')]: proto.Message.AppStateSyncKeyData.fromObject({ keyData, fingerprint, timestamp }) };
}

export function linkDevice(registry: Registry, account: AccountRecord, options: { preKeys?: number; shareAppStateKey?: boolean } = {}): LinkedDevice {
  const preKeyCount = options.preKeys ?? 30;
  const creds = initAuthCreds();
  const preKeys: { [id: string]: BaileysKeyPair } = {};
  for (let id = 1; id <= preKeyCount; id++) preKeys[id] = generateKeyPair();
  const device = registry.addDevice(account, {
    noisePublic: Buffer.from(creds.noiseKey.public),
    identityPublic: Buffer.from(creds.signedIdentityKey.public),
    registrationId: creds.registrationId,
    signedPreKey: {
      keyId: creds.signedPreKey.keyId,
      publicKey: Buffer.from(creds.signedPreKey.keyPair.public),
      signature: Buffer.from(creds.signedPreKey.signature),
    },
    preKeys: new Map(Object.entries(preKeys).map(([id, pair]) => [Number(id), Buffer.from(pair.public)])),
    platform: 'chrome',
  });
  // The ADV identity the phone signed when it linked this device (what pair-success would have carried).
  const details = proto.ADVDeviceIdentity.encode({ rawId: device.device, timestamp: Math.floor(Date.now() / 1000), keyIndex: device.device }).finish();
  const accountSignature = sign(account.accountKey.private, Buffer.concat([ACCOUNT_SIGNATURE_PREFIX, details, creds.signedIdentityKey.public]));
  const deviceSignature = sign(creds.signedIdentityKey.private, Buffer.concat([DEVICE_SIGNATURE_PREFIX, details, creds.signedIdentityKey.public, account.accountKey.public]));
  const shareKey = options.shareAppStateKey ?? true;
  return {
    deviceJid: device.jid,
    creds: {
      ...creds,
      me: { id: device.jid, lid: device.lidJid, name: account.name },
      account: { details, accountSignatureKey: account.accountKey.public, accountSignature, deviceSignature },
      platform: device.platform,
      myAppStateKeyId: shareKey ? account.appStateKey.keyId.toString('base64') : undefined,
      nextPreKeyId: preKeyCount + 1,
      firstUnuploadedPreKeyId: preKeyCount + 1,
      registered: true,
    },
    keys: { 'pre-key': preKeys, ...(shareKey ? { 'app-state-sync-key': appStateKeyRecord(account) } : {}) },
  };
}
