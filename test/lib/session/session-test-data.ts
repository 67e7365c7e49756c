import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Curve, initAuthCreds, proto, type AuthenticationCreds, type LTHashState } from '@whiskeysockets/baileys';
import { ensureSessionTable } from '../../../lib/session/dynamodb-session-store.js';
import type { KeyChanges } from '../../../lib/session/session-store.js';

/** A client on the jest run's DynamoDB Local and a fresh table for one test file. */
export async function localTable(prefix: string): Promise<{ client: DynamoDBClient; tableName: string }> {
  const client = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB });
  const tableName = `${prefix}-${process.pid}-${Date.now()}`;
  await ensureSessionTable(client, tableName);
  return { client, tableName };
}

export function linkedCreds(user = '491701234567'): AuthenticationCreds {
  return { ...initAuthCreds(), me: { id: `${user}:3@s.whatsapp.net`, lid: `1234567${user}:3@lid`, name: 'Pin Bot' }, myAppStateKeyId: 'AAAAAMtL' };
}

export function appStateSyncKey(): proto.Message.AppStateSyncKeyData {
  return proto.Message.AppStateSyncKeyData.fromObject({
    keyData: randomBytes(32),
    fingerprint: { rawId: 123456, currentIndex: 2, deviceIndexes: [0, 1, 2] },
    timestamp: 1764000000000,
  });
}

/** An LT-hash state of `entries` index entries (~132 bytes of JSON each). */
export function appStateVersion(entries: number, version = 7): LTHashState {
  const indexValueMap: LTHashState['indexValueMap'] = {};
  for (let entry = 0; entry < entries; entry++) indexValueMap[randomBytes(32).toString('base64')] = { valueMac: randomBytes(32) };
  return { version, hash: randomBytes(128), indexValueMap };
}

/** The app-state collection's meta as lib/app-state stores it (`pins` pairs of chat and pin time). */
export function appStateMeta(version: number, pins: Array<[string, number]> = [['6289685028129@s.whatsapp.net', 1764000000000]]) {
  return { version, hash: randomBytes(128).toString('base64'), generation: randomBytes(8).toString('hex'), pins, pinsVersion: version };
}

/** One value of every rc14 key category, Buffers nested where Baileys nests them. */
export function everyKeyCategory(): KeyChanges {
  return {
    'pre-key': { '1': Curve.generateKeyPair(), '2': Curve.generateKeyPair() },
    session: { '491709876543.0': randomBytes(945) },
    'sender-key': { '120363025246125486@g.us::491709876543::0': randomBytes(200) },
    'sender-key-memory': { '120363025246125486@g.us': { '491709876543:0@s.whatsapp.net': true } },
    'app-state-sync-key': { AAAAAMtL: appStateSyncKey() },
    'app-state-sync-version': { regular_high: appStateVersion(3), critical_block: appStateVersion(0, 1) },
    'lid-mapping': { '491709876543': '98765432109876', '98765432109876_reverse': '491709876543' },
    'device-list': { '491709876543': ['0', '12'] },
    tctoken: { '98765432109876@lid': { token: randomBytes(40), timestamp: '1764000000', senderTimestamp: 1764000001 } },
    'identity-key': { '491709876543.0': Buffer.concat([Buffer.from([5]), randomBytes(32)]) },
  };
}
