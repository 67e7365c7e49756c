import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeviceQueue, MAX_QUEUED, type QueuedRequest } from '../../../lib/device-turns/device-queue.js';
import { DynamoDbSessionStore } from '../../../lib/session/dynamodb-session-store.js';
import { QueueGrewError } from '../../../lib/session/session-store.js';
import { localTable } from '../session/session-test-data.js';

// The device's queue on its lease item, against DynamoDB Local.
let client: DynamoDBClient;
let tableName: string;
let queue: DeviceQueue;
let store: DynamoDbSessionStore;
let devices = 0;

beforeAll(async () => {
  ({ client, tableName } = await localTable('device-queue'));
  queue = new DeviceQueue(client, tableName);
  store = new DynamoDbSessionStore(client, tableName);
});
afterAll(() => client.destroy());

const request = (id: string, chatJid = 'a@s.whatsapp.net'): QueuedRequest => ({ id, chatJid, pinned: true, at: Date.now(), until: Date.now() + 10_000 });
const held = async () => {
  const deviceId = `queue-${++devices}`;
  const { lease } = await queue.acquire(deviceId, 'holder', 30);
  return { deviceId, lease };
};

describe('DeviceQueue', () => {
  it('queues behind a live holder; with no holder says "free"; a full queue answers busy with Retry-After', async () => {
    // Prepare
    const { deviceId } = await held();
    // Act
    const first = await queue.enqueue(deviceId, request('r1'));
    const unheld = await queue.enqueue(`queue-${++devices}`, request('r2'));
    for (let i = 2; i <= MAX_QUEUED; i += 20) await Promise.all(Array.from({ length: Math.min(20, MAX_QUEUED - i + 1) }, (_, j) => queue.enqueue(deviceId, request(`r${i + j}`))));
    const full = queue.enqueue(deviceId, request('one-too-many'));
    // Assess
    expect(first).toBe('queued');
    expect(unheld).toBe('free');
    await expect(full).rejects.toMatchObject({ name: 'DeviceBusyError', retryAfterSeconds: expect.any(Number) });
    const view = await queue.read(deviceId);
    expect(view.requests.map((r) => r.id)).toHaveLength(MAX_QUEUED);
    expect(view.seq).toBe(MAX_QUEUED);
    expect(view.holder?.owner).toBe('holder');
  });

  it('a claimed request cannot be withdrawn; an unclaimed one can, and then cannot be claimed', async () => {
    // Prepare
    const { deviceId, lease } = await held();
    await queue.enqueue(deviceId, request('claimed'));
    await queue.enqueue(deviceId, request('left'));
    const batch = { id: 'b1', by: 'holder', base: 3, mutations: [['a@s.whatsapp.net', true, 1] as [string, boolean, number]], decisions: { claimed: '{"d":"change"}' } };
    // Act
    const claimed = await queue.claim(lease, batch, ['claimed'], Date.now() + 30_000);
    const withdrawClaimed = await queue.withdraw(deviceId, 'claimed');
    const withdrawLeft = await queue.withdraw(deviceId, 'left');
    const claimWithdrawn = await queue.claim(lease, { ...batch, id: 'b2' }, ['left'], Date.now() + 30_000);
    // Assess
    expect([claimed, withdrawClaimed, withdrawLeft, claimWithdrawn]).toEqual([true, false, true, false]);
    const view = await queue.read(deviceId);
    expect(view.requests).toEqual([expect.objectContaining({ id: 'claimed', claim: 'b1' })]);
    expect(view.batches).toEqual([batch]);
  });

  it('answers skip a request withdrawn meanwhile and forget the batch; the caller reads its outcome', async () => {
    // Prepare
    const { deviceId, lease } = await held();
    for (const id of ['x', 'y']) await queue.enqueue(deviceId, request(id));
    await queue.withdraw(deviceId, 'y');
    // Act
    await queue.answer(lease, { outcomes: new Map([['x', '{"d":"change"}'], ['y', '{"d":"change"}']]), forget: ['none'] }, Date.now() + 30_000);
    const polled = await queue.poll(deviceId, 'x');
    // Assess
    expect(polled.request).toMatchObject({ id: 'x', out: '{"d":"change"}' });
    expect(polled.holder?.owner).toBe('holder');
    expect((await queue.read(deviceId)).requests.map((r) => r.id)).toEqual(['x']);
  });

  it('a release conditional on the queue fails with QueueGrewError when a request was queued since, and writes nothing', async () => {
    // Prepare
    const { deviceId, lease } = await held();
    await queue.enqueue(deviceId, request('late'));
    // Act
    const release = store.commit(lease, { keys: { 'known-chats': { v1: [['a@s.whatsapp.net', 1]] } } }, { whenSeq: lease.seq });
    // Assess
    await expect(release).rejects.toBeInstanceOf(QueueGrewError);
    expect((await store.load(deviceId)).keys['known-chats']).toBeUndefined();
    expect((await queue.read(deviceId)).holder?.owner).toBe('holder');
    await store.commit(lease, {}, { whenSeq: 1 });
    expect((await queue.read(deviceId)).holder).toBeUndefined();
  });

  it('a lost lease: claims and answers are refused with LeaseLostError', async () => {
    const { deviceId, lease } = await held();
    await queue.enqueue(deviceId, request('r'));
    const thief = new DeviceQueue(client, tableName, { now: () => Date.now() + 60_000 });
    await thief.acquire(deviceId, 'thief', 30);
    await expect(queue.claim(lease, { id: 'b', by: 'holder', base: 0, mutations: [], decisions: {} }, ['r'], Date.now())).rejects.toMatchObject({ name: 'LeaseLostError' });
    await expect(queue.answer(lease, { outcomes: new Map([['r', '{"d":"change"}']]) }, Date.now())).rejects.toMatchObject({ name: 'LeaseLostError' });
  });
});
