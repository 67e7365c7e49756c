/** A companion device linked "earlier": Baileys creds and stored keys, with the server side registered from them. */
import { initAuthCreds, proto, type KeyPair as BaileysKeyPair } from '@whiskeysockets/baileys';
import { generateKeyPair, sign } from './curve25519.js';
import type { LinkedDevice } from './index.js';
import type { AccountRecord, AppStateKey, Registry } from './registry.js';

const ACCOUNT_SIGNATURE_PREFIX = Buffer.from([6, 0]);
const DEVICE_SIGNATURE_PREFIX = Buffer.from([6, 1]);

/**
 * The order in which the phone lists the account's keys in one APP_STATE_SYNC_KEY_SHARE: the newest first, then the
 * others oldest to newest, so with two or more keys the newest is never last. (Baileys makes the LAST key of a share its
 * myAppStateKeyId; a client must pick the newest by timestamp.)
 */
export function appStateKeyShareOrder(account: AccountRecord): AppStateKey[] {
  const byAge = [...account.appStateKeys].sort((a, b) => a.timestamp - b.timestamp);
  const newest = byAge.pop();
  return newest ? [newest, ...byAge] : [];
}

/** The app-state-sync-key records as Baileys stores them (id = base64 key id): every key of the account. */
export function appStateKeyRecord(account: AccountRecord): { [id: string]: proto.Message.IAppStateSyncKeyData } {
  const fingerprint = { rawId: account.nextDevice, currentIndex: 0, deviceIndexes: [0] };
  return Object.fromEntries(appStateKeyShareOrder(account).map(({ keyId, keyData, timestamp }) => [
    keyId.toString('base64'), proto.Message.AppStateSyncKeyData.fromObject({ keyData, fingerprint, timestamp }),
  ]));
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
  if (shareKey) for (const key of account.appStateKeys) device.appStateKeyIds.add(key.keyId.toString('base64'));
  return {
    deviceJid: device.jid,
    creds: {
      ...creds,
      me: { id: device.jid, lid: device.lidJid, name: account.name },
      account: { details, accountSignatureKey: account.accountKey.public, accountSignature, deviceSignature },
      platform: device.platform,
      // what Baileys would have stored on receiving the share: its LAST key, not the newest when there are several
      myAppStateKeyId: shareKey ? appStateKeyShareOrder(account).at(-1)!.keyId.toString('base64') : undefined,
      nextPreKeyId: preKeyCount + 1,
      firstUnuploadedPreKeyId: preKeyCount + 1,
      registered: true,
    },
    keys: { 'pre-key': preKeys, ...(shareKey ? { 'app-state-sync-key': appStateKeyRecord(account) } : {}) },
  };
}
