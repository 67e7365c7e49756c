import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { Curve, initAuthCreds } from '@whiskeysockets/baileys';
import { DeviceBusyError, LeaseLostError } from '../../../lib/errors.js';
import { DynamoDbSessionStore } from '../../../lib/session/dynamodb-session-store.js';
import { attachRequestCounter, type RequestCounter } from '../../../lib/session/request-counter.js';
import type { KeyChanges, Lease } from '../../../lib/session/session-store.js';
import { appStateSyncKey, appStateVersion, everyKeyCategory, linkedCreds, localTable } from './session-test-data.js';

type Item = Record<string, AttributeValue>;

let client: DynamoDBClient;
let tableName: string;
let counter: RequestCounter;
let store: DynamoDbSessionStore;
let devices = 0;
const newDevice = () => `device-${++devices}`;

beforeAll(async () => {
  ({ client, tableName } = await localTable('session-store'));
  counter = attachRequestCounter(client);
  store = new DynamoDbSessionStore(client, tableName);
});

afterAll(() => client.destroy());

async function itemCount(deviceId: string): Promise<number> {
  const { Count } = await client.send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: deviceId } }, Select: 'COUNT' }));
  return Count ?? 0;
}

async function linkedDevice(keys: KeyChanges = {}): Promise<{ deviceId: string; lease: Lease }> {
  const deviceId = newDevice();
  const lease = await store.acquireLease(deviceId, 'setup', 30);
  await store.commit(lease, { creds: linkedCreds(), keys });
  return { deviceId, lease: await store.acquireLease(deviceId, 'invocation-1', 30) };
}

describe('DynamoDbSessionStore keys', () => {
  it('round-trips every key category, hot ones through load and all through getKeys', async () => {
    // Prepare
    const keys = everyKeyCategory();
    const creds = linkedCreds();
    const deviceId = newDevice();
    const lease = await store.acquireLease(deviceId, 'invocation-1', 30);
    // Act
    await store.commit(lease, { creds, keys });
    const snapshot = await store.load(deviceId);
    const fetched = Object.fromEntries(
      await Promise.all(Object.entries(keys).map(async ([type, values]) => [type, await store.getKeys(deviceId, type as keyof KeyChanges, Object.keys(values!))])),
    );
    // Assess
    expect(snapshot.state).toBe('linked');
    expect(JSON.parse(JSON.stringify(snapshot.creds))).toEqual(JSON.parse(JSON.stringify(creds)));
    expect(Buffer.isBuffer(snapshot.creds!.noiseKey.private)).toBe(true);
    expect(snapshot.keys).toEqual({ 'app-state-sync-key': keys['app-state-sync-key'], 'app-state-sync-version': keys['app-state-sync-version'] });
    expect(snapshot.keys['app-state-sync-key']!.AAAAAMtL!.constructor.name).toBe('AppStateSyncKeyData');
    expect(fetched).toEqual(keys);
  });

  it('stores a 1 MB app-state-sync-version split across items and loads it whole in one request', async () => {
    // Prepare
    const version = appStateVersion(8000);
    const { deviceId, lease } = await linkedDevice();
    expect(JSON.stringify(version).length).toBeGreaterThan(1_000_000);
    await store.commit(lease, { keys: { 'app-state-sync-version': { regular_low: version } } });
    const otherStore = new DynamoDbSessionStore(client, tableName);
    counter.reset();
    // Act
    const snapshot = await otherStore.load(deviceId);
    const loadRequests = counter.counts().requests;
    const fetched = await otherStore.getKeys(deviceId, 'app-state-sync-version', ['regular_low']);
    // Assess
    expect(loadRequests).toBe(1);
    expect(snapshot.keys['app-state-sync-version']!.regular_low).toEqual(version);
    expect(fetched.regular_low).toEqual(version);
    expect(await itemCount(deviceId)).toBeGreaterThanOrEqual(1 + 1 + 2); // lease, creds, ≥ 2 parts
  });

  it('deletes the stale parts when a split value shrinks', async () => {
    // Prepare
    const { deviceId, lease } = await linkedDevice({ 'app-state-sync-version': { regular: appStateVersion(8000) } });
    await store.load(deviceId);
    const small = appStateVersion(2);
    // Act
    await store.commit(lease, { keys: { 'app-state-sync-version': { regular: small } } });
    // Assess
    expect((await store.load(deviceId)).keys['app-state-sync-version']).toEqual({ regular: small });
    expect(await itemCount(deviceId)).toBe(3); // lease, creds, one key item
  });

  it('reads a shrunk value whole even when its writer never saw the old parts', async () => {
    // Prepare
    const { deviceId, lease } = await linkedDevice({ 'app-state-sync-version': { regular: appStateVersion(8000) } });
    const unaware = new DynamoDbSessionStore(client, tableName);
    const small = appStateVersion(2);
    // Act
    await unaware.commit(lease, { keys: { 'app-state-sync-version': { regular: small } } });
    // Assess
    expect((await unaware.load(deviceId)).keys['app-state-sync-version']).toEqual({ regular: small });
    expect(await unaware.getKeys(deviceId, 'app-state-sync-version', ['regular'])).toEqual({ regular: small });
  });

  it('deletes keys written as null, whole or split', async () => {
    // Prepare
    const { deviceId, lease } = await linkedDevice({ 'pre-key': { '7': Curve.generateKeyPair(), '8': Curve.generateKeyPair() }, 'app-state-sync-version': { regular: appStateVersion(8000) } });
    await store.load(deviceId);
    // Act
    await store.write(lease, { keys: { 'pre-key': { '7': null }, 'app-state-sync-version': { regular: null } } });
    // Assess
    expect(Object.keys(await store.getKeys(deviceId, 'pre-key', ['7', '8']))).toEqual(['8']);
    expect((await store.load(deviceId)).keys).toEqual({});
    expect(await itemCount(deviceId)).toBe(3); // lease, creds, pre-key 8
  });

  it('commits a pin-shaped change (creds, app-state version) in one request', async () => {
    // Prepare
    const { deviceId, lease } = await linkedDevice({ 'app-state-sync-version': { regular_low: appStateVersion(500) } });
    const creds = linkedCreds();
    counter.reset();
    // Act
    await store.commit(lease, { creds, keys: { 'app-state-sync-version': { regular_low: appStateVersion(501, 8) } } });
    // Assess
    expect(counter.counts().byCommand).toEqual({ TransactWriteItemsCommand: 1 });
    expect((await store.load(deviceId)).keys['app-state-sync-version']!.regular_low!.version).toBe(8);
  });

  it('splits a commit of more than 100 items into fenced transactions', async () => {
    // Prepare
    const { deviceId, lease } = await linkedDevice();
    const preKeys = Object.fromEntries(Array.from({ length: 250 }, (_, index) => [String(index + 1), Curve.generateKeyPair()]));
    counter.reset();
    // Act
    const version = await store.commit(lease, { keys: { 'pre-key': preKeys } });
    // Assess
    expect(counter.counts().byCommand).toEqual({ TransactWriteItemsCommand: 3 });
    expect(Object.keys(await store.getKeys(deviceId, 'pre-key', Object.keys(preKeys)))).toHaveLength(250);
    expect((await store.acquireLease(deviceId, 'invocation-2', 30)).sessionVersion).toBe(version);
  });

  it('reads more than 100 keys in batches of 100', async () => {
    // Prepare
    const { deviceId } = await linkedDevice({ session: Object.fromEntries(Array.from({ length: 150 }, (_, index) => [`4917${index}.0`, Buffer.from([index])])) });
    counter.reset();
    // Act
    const sessions = await store.getKeys(deviceId, 'session', [...Array.from({ length: 150 }, (_, index) => `4917${index}.0`), 'absent.0']);
    // Assess
    expect(Object.keys(sessions)).toHaveLength(150);
    expect(sessions['491742.0']).toEqual(Buffer.from([42]));
    expect(counter.counts().byCommand).toEqual({ BatchGetItemCommand: 2 });
  });

  it('retries the keys a BatchGetItem left unprocessed', async () => {
    // Prepare
    const ids = Array.from({ length: 10 }, (_, index) => `4917${index}.0`);
    const { deviceId } = await linkedDevice({ session: Object.fromEntries(ids.map((id) => [id, Buffer.from(id)])) });
    const throttled = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB });
    let throttle = true;
    throttled.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        const output = result.output as { Responses?: Record<string, Item[]>; UnprocessedKeys?: Record<string, { Keys: Item[] }> };
        if (context.commandName === 'BatchGetItemCommand' && throttle) {
          // DynamoDB under throttling answers part of a batch and returns the rest as unprocessed.
          throttle = false;
          const answered = output.Responses![tableName]!;
          output.UnprocessedKeys = { [tableName]: { Keys: answered.splice(4).map(({ pk, sk }) => ({ pk: pk!, sk: sk! })) } };
        }
        return result;
      },
      { step: 'initialize', name: 'throttleOnce' },
    );
    const throttledCounter = attachRequestCounter(throttled);
    // Act
    const sessions = await new DynamoDbSessionStore(throttled, tableName).getKeys(deviceId, 'session', ids);
    // Assess
    expect(sessions).toEqual(Object.fromEntries(ids.map((id) => [id, Buffer.from(id)])));
    expect(throttledCounter.counts().byCommand).toEqual({ BatchGetItemCommand: 2 });
    throttled.destroy();
  });
});

describe('DynamoDbSessionStore states', () => {
  it('tells absent, linking, linked and logged-out apart, keeping a logged-out session', async () => {
    // Prepare
    const [absent, linking, linked] = [newDevice(), newDevice(), newDevice()];
    await store.commit(await store.acquireLease(linking, 'a', 30), { creds: initAuthCreds() });
    const lease = await store.acquireLease(linked, 'a', 30);
    await store.write(lease, { creds: linkedCreds(), keys: { 'app-state-sync-key': { AAAAAMtL: appStateSyncKey() } } });
    const linkedBeforeLogout = await store.load(linked);
    // Act
    await store.commit(lease, { state: 'logged-out' });
    // Assess
    expect((await store.load(absent)).state).toBe('absent');
    expect((await store.load(linking)).state).toBe('linking');
    expect(linkedBeforeLogout.state).toBe('linked');
    const loggedOut = await store.load(linked);
    expect(loggedOut.state).toBe('logged-out');
    expect(loggedOut.creds?.me?.id).toBe(linkedBeforeLogout.creds?.me?.id);
    expect(Object.keys(loggedOut.keys['app-state-sync-key']!)).toEqual(['AAAAAMtL']);
  });

  it('lists devices with state, linked number and last use, not ids that only ever had a lease, and deletes a device whole', async () => {
    // Prepare
    const { deviceId } = await linkedDevice(everyKeyCategory());
    const askedFor = newDevice();
    await store.releaseLease(await store.acquireLease(askedFor, 'a pin', 30));
    // Act
    const all = await store.list();
    const listed = all.find((device) => device.deviceId === deviceId);
    await store.deleteDevice(deviceId);
    // Assess
    expect(listed).toEqual({ deviceId, state: 'linked', linkedJid: '491701234567:3@s.whatsapp.net', lastUsedAt: expect.any(Number) });
    expect(all.some((device) => device.deviceId === askedFor)).toBe(false);
    expect(await itemCount(deviceId)).toBe(0);
    expect((await store.list()).some((device) => device.deviceId === deviceId)).toBe(false);
  });
});

describe('DynamoDbSessionStore lease', () => {
  it('lets exactly one of two concurrent owners acquire a device', async () => {
    // Prepare
    const deviceId = newDevice();
    const now = Date.now();
    const clockStore = new DynamoDbSessionStore(client, tableName, { now: () => now });
    counter.reset();
    // Act
    const results = await Promise.allSettled([clockStore.acquireLease(deviceId, 'a', 30), clockStore.acquireLease(deviceId, 'b', 30)]);
    // Assess
    expect(counter.counts().byCommand).toEqual({ UpdateItemCommand: 2 });
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const [lost] = results.filter((result) => result.status === 'rejected');
    expect(lost!.reason).toBeInstanceOf(DeviceBusyError);
    expect(lost!.reason).toMatchObject({ deviceId, retryAfterSeconds: 30 });
  });

  it('lets a new owner take an expired lease over and fences the old owner out', async () => {
    // Prepare
    let now = Date.parse('2026-11-26T12:00:00Z');
    const clockStore = new DynamoDbSessionStore(client, tableName, { now: () => now });
    const { deviceId, lease: setup } = await linkedDevice({ 'pre-key': { '1': Curve.generateKeyPair() } });
    await store.releaseLease(setup);
    const first = await clockStore.acquireLease(deviceId, 'first', 30);
    await expect(clockStore.acquireLease(deviceId, 'second', 30)).rejects.toBeInstanceOf(DeviceBusyError);
    now += 31_000;
    // Act
    const second = await clockStore.acquireLease(deviceId, 'second', 30);
    const fencedCommit = clockStore.commit(first, { creds: initAuthCreds(), keys: { 'pre-key': { '1': null, '2': Curve.generateKeyPair() } } });
    // Assess
    await expect(fencedCommit).rejects.toBeInstanceOf(LeaseLostError);
    await expect(clockStore.write(first, { keys: { 'pre-key': { '3': Curve.generateKeyPair() } } })).rejects.toBeInstanceOf(LeaseLostError);
    await expect(clockStore.renewLease(first, 30)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(clockStore.releaseLease(first)).resolves.toBeUndefined();
    const snapshot = await store.load(deviceId);
    expect(snapshot.state).toBe('linked');
    expect(Object.keys(await store.getKeys(deviceId, 'pre-key', ['1', '2', '3']))).toEqual(['1']);
    await expect(clockStore.commit(second, {})).resolves.toEqual(expect.any(String));
  });

  it('renews, releases and hands the session version back to the next owner', async () => {
    // Prepare
    let now = Date.parse('2026-11-26T12:00:00Z');
    const clockStore = new DynamoDbSessionStore(client, tableName, { now: () => now });
    const deviceId = newDevice();
    const lease = await clockStore.acquireLease(deviceId, 'a', 30);
    const version = await clockStore.commit(lease, { creds: linkedCreds() });
    const next = await clockStore.acquireLease(deviceId, 'b', 30);
    // Act
    now += 25_000;
    const renewed = await clockStore.renewLease(next, 30);
    now += 25_000;
    const busy = await clockStore.acquireLease(deviceId, 'c', 30).catch((error: unknown) => error);
    await clockStore.releaseLease(renewed);
    const afterRelease = await clockStore.acquireLease(deviceId, 'c', 30);
    // Assess
    expect(next.sessionVersion).toBe(version);
    expect(renewed.expiresAt).toBe(now - 25_000 + 30_000);
    expect(busy).toMatchObject({ name: 'DeviceBusyError', retryAfterSeconds: 5 });
    expect(afterRelease.sessionVersion).toBe(version);
  });

  it('makes write-through durable at once, keeps the lease and invalidates the session version', async () => {
    // Prepare
    const { deviceId, lease } = await linkedDevice();
    const reader = new DynamoDbSessionStore(client, tableName);
    const session = Buffer.from('ratchet state');
    const committed = await store.commit(lease, {});
    const next = await store.acquireLease(deviceId, 'invocation-2', 30);
    // Act
    await store.write(next, { keys: { session: { '491709876543.0': session } } });
    // Assess
    expect(await reader.getKeys(deviceId, 'session', ['491709876543.0'])).toEqual({ '491709876543.0': session });
    await expect(store.acquireLease(deviceId, 'invocation-3', 30)).rejects.toBeInstanceOf(DeviceBusyError);
    await store.releaseLease(next);
    const after = await store.acquireLease(deviceId, 'invocation-3', 30);
    expect(next.sessionVersion).toBe(committed);
    expect(after.sessionVersion).not.toBe(committed);
  });
});
