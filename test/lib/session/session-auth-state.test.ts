import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { addTransactionCapability, Curve, getNextPreKeys } from '@whiskeysockets/baileys';
import { LeaseLostError } from '../../../lib/errors.js';
import { DynamoDbSessionStore } from '../../../lib/session/dynamodb-session-store.js';
import { attachRequestCounter, type RequestCounter } from '../../../lib/session/request-counter.js';
import { openSessionAuthState } from '../../../lib/session/session-auth-state.js';
import type { KeyChanges } from '../../../lib/session/session-store.js';
import { appStateMeta, appStateSyncKey, appStateVersion, linkedCreds, localTable } from './session-test-data.js';

let client: DynamoDBClient;
let tableName: string;
let counter: RequestCounter;
let store: DynamoDbSessionStore;
let reader: DynamoDbSessionStore;
let devices = 0;

beforeAll(async () => {
  ({ client, tableName } = await localTable('session-auth-state'));
  counter = attachRequestCounter(client);
  store = new DynamoDbSessionStore(client, tableName);
  reader = new DynamoDbSessionStore(client, tableName);
});

afterAll(() => client.destroy());

/** A linked device with the given keys, leased and loaded as an invocation would. */
async function openDevice(keys: KeyChanges = {}) {
  const deviceId = `device-${++devices}`;
  await store.commit(await store.acquireLease(deviceId, 'setup', 30), { creds: linkedCreds(), keys });
  const lease = await store.acquireLease(deviceId, 'invocation', 30);
  const auth = openSessionAuthState(store, lease, await store.load(deviceId));
  counter.reset();
  return { deviceId, lease, auth };
}

describe('openSessionAuthState', () => {
  it('answers hot keys from the snapshot and fetches other keys once, absent ones included', async () => {
    // Prepare
    const syncKey = appStateSyncKey();
    const preKey = Curve.generateKeyPair();
    const { auth } = await openDevice({ 'app-state-sync-key': { AAAAAMtL: syncKey }, 'pre-key': { '5': preKey } });
    // Act
    const hot = await auth.state.keys.get('app-state-sync-key', ['AAAAAMtL', 'unknown']);
    const meta = await auth.get('app-state-meta', ['regular_low']);
    const hotRequests = counter.counts().requests;
    const first = await auth.state.keys.get('pre-key', ['5', '6']);
    const second = await auth.state.keys.get('pre-key', ['5', '6']);
    // Assess
    expect(hot).toEqual({ AAAAAMtL: syncKey });
    expect(meta).toEqual({});
    expect(hotRequests).toBe(0);
    expect(first).toEqual({ '5': preKey });
    expect(second).toEqual({ '5': preKey });
    expect(counter.counts().byCommand).toEqual({ BatchGetItemCommand: 1 });
    expect(auth.requests()).toBe(1);
  });

  it('makes keys.set durable before it resolves, deletes included', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice({ 'pre-key': { '1': Curve.generateKeyPair() } });
    const session = Buffer.from('ratchet');
    // Act
    await auth.state.keys.set({ session: { '491709876543.0': session }, 'pre-key': { '1': null } });
    // Assess
    expect(await reader.getKeys(deviceId, 'session', ['491709876543.0'])).toEqual({ '491709876543.0': session });
    expect(await reader.getKeys(deviceId, 'pre-key', ['1'])).toEqual({});
    expect(await auth.state.keys.get('pre-key', ['1'])).toEqual({});
    expect(counter.counts().byCommand).toEqual({ TransactWriteItemsCommand: 1, BatchGetItemCommand: 2 });
  });

  it('writes the creds through at once when the pre-key counters or the app-state key id change, and only then', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice();
    // Act
    auth.credsChanged({ lastPropHash: 'not urgent' });
    await auth.state.keys.set({ session: { 'x.0': Buffer.from([1]) } }); // write-throughs are serialised
    const afterOrdinary = (await reader.load(deviceId)).creds!;
    auth.credsChanged({ nextPreKeyId: 3, firstUnuploadedPreKeyId: 3 });
    auth.credsChanged({ myAppStateKeyId: 'AAAAAQAB' });
    await auth.state.keys.set({ session: { 'x.0': Buffer.from([2]) } });
    // Assess
    expect(afterOrdinary.lastPropHash).toBeUndefined();
    const stored = (await reader.load(deviceId)).creds!;
    expect(stored).toMatchObject({ nextPreKeyId: 3, firstUnuploadedPreKeyId: 3, myAppStateKeyId: 'AAAAAQAB', lastPropHash: 'not urgent' });
    expect(auth.state.creds.nextPreKeyId).toBe(3);
  });

  it('serves Baileys\' own transactional key store: generated pre-keys and counters are durable when its transaction resolves', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice();
    const quiet = { level: 'silent', trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Parameters<typeof addTransactionCapability>[1];
    const keys = addTransactionCapability(auth.state.keys, quiet, { maxCommitRetries: 1, delayBetweenTriesMs: 10 });
    // Act
    await keys.transaction(async () => {
      const { update } = await getNextPreKeys({ creds: auth.state.creds, keys }, 30);
      auth.credsChanged(update);
    }, 'upload-pre-keys');
    // Assess
    const stored = await reader.load(deviceId);
    expect(stored.creds!.nextPreKeyId).toBe(31);
    expect(Object.keys(await reader.getKeys(deviceId, 'pre-key', Array.from({ length: 31 }, (_, index) => String(index + 1))))).toHaveLength(30);
    expect(await keys.get('pre-key', ['30'])).toEqual({ '30': expect.objectContaining({ public: expect.any(Buffer) }) });
  });

  it('commits pending creds and keys of a pin in one request and hands its version to the next owner', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice({ 'app-state-meta': { regular_low: appStateMeta(4) } });
    const newVersion = appStateMeta(5);
    // Act
    auth.credsChanged({ accountSyncCounter: 9 });
    auth.setKeys({ 'app-state-meta': { regular_low: newVersion }, 'app-state-entry': { 'g.AAAA': 'BBBB' } });
    const readBack = await auth.get('app-state-meta', ['regular_low']);
    const version = await auth.commit();
    // Assess
    expect(readBack).toEqual({ regular_low: newVersion });
    expect(counter.counts().byCommand).toEqual({ TransactWriteItemsCommand: 1 });
    expect(auth.requests()).toBe(1);
    const snapshot = await reader.load(deviceId);
    expect(snapshot.creds!.accountSyncCounter).toBe(9);
    expect(snapshot.keys['app-state-meta']).toEqual({ regular_low: newVersion });
    expect(await reader.getKeys(deviceId, 'app-state-entry', ['g.AAAA'])).toEqual({ 'g.AAAA': 'BBBB' });
    expect((await store.acquireLease(deviceId, 'next', 30)).sessionVersion).toBe(version);
  });

  it('writes the creds only when they changed (Baileys re-emits them unchanged at every login)', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice();
    const updatedAt = async () => (await client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: deviceId }, sk: { S: 'h#creds' } }, ConsistentRead: true }))).Item?.updatedAt?.N;
    const before = await updatedAt();
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Act: the same values again
    auth.credsChanged({ me: { ...auth.state.creds.me! }, registered: auth.state.creds.registered });
    await auth.commit();
    // Assess
    expect(await updatedAt()).toBe(before);
  });

  it('does not let a commit overwrite a key written through after it was set pending', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice();
    const older = Buffer.from([1]);
    const newer = Buffer.from([2]);
    // Act
    auth.setKeys({ session: { 'x.0': older } });
    await auth.state.keys.set({ session: { 'x.0': newer } });
    await auth.commit();
    // Assess
    expect(await reader.getKeys(deviceId, 'session', ['x.0'])).toEqual({ 'x.0': newer });
  });

  it('refuses Baileys any read or write of app-state-sync-version (the collection is lib/app-state\'s), before any request', async () => {
    // Prepare
    const { auth } = await openDevice({ 'app-state-sync-version': { regular_low: appStateVersion(3) } });
    // Act
    const read = auth.state.keys.get('app-state-sync-version', ['regular_low']);
    const write = auth.state.keys.set({ 'app-state-sync-version': { regular_low: appStateVersion(1) } });
    // Assess
    await expect(read).rejects.toThrow('app state is synced by lib/app-state, not by Baileys');
    await expect(write).rejects.toThrow('app state is synced by lib/app-state, not by Baileys');
    expect(counter.counts().requests).toBe(0);
  });

  it('starts an absent device with fresh creds that its commit stores as linking', async () => {
    // Prepare
    const deviceId = `device-${++devices}`;
    const lease = await store.acquireLease(deviceId, 'linking', 30);
    // Act
    const auth = openSessionAuthState(store, lease, await store.load(deviceId));
    await auth.commit();
    // Assess
    const snapshot = await reader.load(deviceId);
    expect(snapshot.state).toBe('linking');
    expect(snapshot.creds!.registrationId).toBe(auth.state.creds.registrationId);
    expect(snapshot.creds!.noiseKey.private).toEqual(auth.state.creds.noiseKey.private);
  });

  it('commits a logout keeping the session for diagnosis', async () => {
    // Prepare
    const { deviceId, auth } = await openDevice();
    // Act
    await auth.commit({ state: 'logged-out' });
    // Assess
    const snapshot = await reader.load(deviceId);
    expect(snapshot.state).toBe('logged-out');
    expect(snapshot.creds!.me!.id).toBe(auth.state.creds.me!.id);
  });

  it('fails the commit and writes nothing once the lease was taken over', async () => {
    // Prepare
    const { deviceId, auth, lease } = await openDevice();
    const thief = new DynamoDbSessionStore(client, tableName, { now: () => lease.expiresAt + 1 });
    await thief.acquireLease(deviceId, 'thief', 30);
    // Act
    const write = auth.state.keys.set({ session: { 'x.0': Buffer.from([1]) } });
    auth.setKeys({ 'app-state-meta': { regular_low: appStateMeta(1) } });
    // Assess
    await expect(write).rejects.toBeInstanceOf(LeaseLostError);
    await expect(auth.commit()).rejects.toBeInstanceOf(LeaseLostError);
    expect(await reader.getKeys(deviceId, 'session', ['x.0'])).toEqual({});
    expect((await reader.load(deviceId)).keys).toEqual({});
  });
});
