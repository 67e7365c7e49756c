import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DeviceQueue } from '../../../lib/device-turns/device-queue.js';
import { registerLinkedDevice } from '../../support/log-capture-secrets.js';
import { startWorld, type World } from '../../support/simulated-world.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { closePort, isCommit, newPort, pinCall, sleep, versions, type Outcome } from '../../reliability/reliability-world.js';

// The device's turn-taking against the simulator and DynamoDB Local: every caller has a WhatsApp port of
// its own (its own DynamoDB client, Baileys state and kept connections), as separate Lambda instances would.
let world: World;
let devices = 0;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.stop();
});

/** A linked device on its own account, with `chats` contacts on WhatsApp. */
async function device(chats: number) {
  const { phoneNumber } = world.sim.createAccount();
  const deviceId = `turns-${++devices}`;
  const linked = await world.link(deviceId, phoneNumber);
  registerLinkedDevice(deviceId, linked);
  const jids = Array.from({ length: chats }, (_, i) => `1555040${String(devices).padStart(2, '0')}${String(i).padStart(2, '0')}@s.whatsapp.net`);
  for (const jid of jids) world.sim.registerNumber(jid.split('@')[0]!);
  return {
    deviceId,
    jids,
    phoneNumber,
    deviceJid: linked.deviceJid,
    pinned: (jid: string) => world.sim.chatState(phoneNumber, jid)?.pinned ?? false,
    version: () => world.sim.appStateVersion(phoneNumber, 'regular_low'),
  };
}

describe('many callers, one connection', () => {
  it('8 callers at once on one device: each answered with its own outcome, one login, served in few patches', async () => {
    // Prepare: 8 instances; each pins its own chat (8 chats: the cap refuses what exceeds 3, in arrival order)
    const { deviceId, jids, deviceJid, version, pinned } = await device(8);
    const ports = jids.map(() => newPort(world));
    const before = version();
    // Act
    const outcomes = await Promise.all(ports.map((port, i) => pinCall(port, { deviceId, chatJid: jids[i]!, pinned: true }, 15_000, 3)));
    await Promise.all(ports.map(closePort));
    // Assess
    const accepted = outcomes.filter((o) => o.status === 200);
    expect(outcomes.map((o) => o.status).sort()).toEqual([200, 200, 200, 409, 409, 409, 409, 409]);
    expect(outcomes.filter((o) => o.status === 409).every((o) => o.error === 'PinLimitError')).toBe(true);
    expect(jids.filter(pinned)).toHaveLength(3);
    expect(accepted.every((o) => pinned(jids[outcomes.indexOf(o)]!))).toBe(true);
    expect(world.sim.connections(deviceJid)).toMatchObject({ total: 1, maxConcurrent: 1 });
    expect(version() - before).toBeLessThanOrEqual(2);
    expect(world.sim.violations).toEqual([]);
  });

  it('a waiting caller whose budget cannot be met answers 409 busy with Retry-After, and its request is never applied', async () => {
    // Prepare: the holder's connection is slow (every frame 150 ms late); the second caller has 5 s in all
    const { deviceId, jids, deviceJid, pinned } = await device(2);
    const [slow, hurried] = [newPort(world), newPort(world)];
    world.sim.setFaults([{ kind: 'latency', ms: 150 }], { deviceJid });
    // Act
    const holding = pinCall(slow, { deviceId, chatJid: jids[0]!, pinned: true }, 20_000);
    await sleep(200);
    const refused = await pinCall(hurried, { deviceId, chatJid: jids[1]!, pinned: true }, 5_000);
    const held = await holding;
    world.sim.setFaults([], { deviceJid });
    await Promise.all([slow, hurried].map(closePort));
    // Assess
    expect(refused).toMatchObject({ status: 409, error: 'DeviceBusyError' });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(held.status).toBe(200);
    expect(pinned(jids[0]!)).toBe(true);
    expect(pinned(jids[1]!)).toBe(false);
  });

  it('a holder whose connection is slow: callers queued while it connects go out with its own patch', async () => {
    // Prepare: every frame 400 ms late, so the cold connection takes seconds (past REREAD_AFTER_MS); 2 more callers queue meanwhile
    const { deviceId, jids, deviceJid, version, pinned } = await device(3);
    const ports = jids.map(() => newPort(world));
    const before = version();
    world.sim.setFaults([{ kind: 'latency', ms: 400 }], { deviceJid });
    // Act
    const holding = pinCall(ports[0]!, { deviceId, chatJid: jids[0]!, pinned: true }, 25_000);
    await sleep(300);
    const queued = ports.slice(1).map((port, i) => pinCall(port, { deviceId, chatJid: jids[i + 1]!, pinned: true }, 25_000));
    const outcomes = await Promise.all([holding, ...queued]);
    world.sim.setFaults([], { deviceJid });
    await Promise.all(ports.map(closePort));
    // Assess: one patch carried all three
    expect(outcomes.map((o) => o.status)).toEqual([200, 200, 200]);
    expect(jids.every(pinned)).toBe(true);
    expect(version() - before).toBe(1);
    expect(world.sim.connections(deviceJid)).toMatchObject({ total: 1, maxConcurrent: 1 });
  });

  it('a holder that claimed a batch and died before uploading it: the next holder finds it did not land and serves it, once', async () => {
    // Prepare: a "holder" takes the lease for 2 s, two callers queue behind it, it claims them and vanishes
    const { deviceId, jids, pinned, version } = await device(2);
    const queue = new DeviceQueue(world.client, world.table);
    const { lease } = await queue.acquire(deviceId, 'vanished-holder', 2);
    const ports = jids.map(() => newPort(world, { leaseSeconds: 5 }));
    const calls = ports.map((port, i) => pinCall(port, { deviceId, chatJid: jids[i]!, pinned: true }, 15_000));
    let queued = (await queue.read(deviceId)).requests;
    while (queued.length < 2) queued = (await sleep(20), (await queue.read(deviceId)).requests);
    const before = version();
    const claimed = await queue.claim(lease, { id: 'lost-batch', by: 'vanished-holder', base: before, mutations: jids.map((jid) => [jid, true, 1_000] as [string, boolean, number]), decisions: {} }, queued.map((r) => r.id), Date.now() + 2_000);
    // Act
    const outcomes = await Promise.all(calls);
    await Promise.all(ports.map(closePort));
    // Assess
    expect(claimed).toBe(true);
    expect(outcomes.map((o) => o.status)).toEqual([200, 200]);
    expect(jids.map(pinned)).toEqual([true, true]);
    expect(version() - before).toBeLessThanOrEqual(2);
    expect((await queue.read(deviceId)).batches).toEqual([]);
  });

  it('a caller that finds the lease free but requests still queued (their holder gone) goes after them: its request on their chat decides', async () => {
    // Prepare: a holder takes the lease for 1 s and vanishes, a pin of the chat queued behind it (its caller not polling yet)
    const { deviceId, jids, pinned } = await device(1);
    const queue = new DeviceQueue(world.client, world.table);
    await queue.acquire(deviceId, 'vanished-holder', 1);
    expect(await queue.enqueue(deviceId, { id: 'older-pin', chatJid: jids[0]!, pinned: true, at: Date.now(), until: Date.now() + 10_000 })).toBe('queued');
    await sleep(1_100);
    const port = newPort(world);
    // Act: the lease has expired; a newer unpin of the same chat takes it
    const newer = await pinCall(port, { deviceId, chatJid: jids[0]!, pinned: false }, 15_000);
    await closePort(port);
    // Assess
    expect(newer.status).toBe(200);
    expect(pinned(jids[0]!)).toBe(false);
    expect((await queue.read(deviceId)).requests).toMatchObject([{ id: 'older-pin', out: expect.any(String) }]); // answered for its caller
  });

  it('requests queued together on one chat: the one that reached the queue last decides', async () => {
    // Prepare: a holder busy logging in while 6 callers queue pins and unpins of one chat, 30 ms apart
    const { deviceId, jids, deviceJid, pinned } = await device(1);
    world.sim.setFaults([{ kind: 'latency', ms: 60 }], { deviceJid });
    const ports = Array.from({ length: 7 }, () => newPort(world));
    // Act
    const outcomes: Array<Promise<Outcome>> = [];
    for (const [i, port] of ports.entries()) {
      outcomes.push(pinCall(port, { deviceId, chatJid: jids[0]!, pinned: i % 2 === 1 }, 15_000));
      await sleep(30);
    }
    const answered = await Promise.all(outcomes);
    world.sim.setFaults([], { deviceJid });
    await Promise.all(ports.map(closePort));
    // Assess
    expect(answered.map((o) => o.status)).toEqual(Array(7).fill(200));
    expect(pinned(jids[0]!)).toBe(false);
    expect(world.sim.connections(deviceJid).total).toBe(1);
  });
});

describe('a turn finished after its response (as in Lambda, lib/lambda-runtime/after-response.ts)', () => {
  it('the caller is answered once WhatsApp accepted the pin; the commit and the release come after, and the next call of the device waits for them', async () => {
    // Prepare: a port whose turns finish after their answer; its DynamoDB client counts the commits that completed
    const { deviceId, jids, deviceJid, phoneNumber, pinned } = await device(2);
    const client = new DynamoDBClient({});
    let commits = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        if (isCommit(args.input as Record<string, unknown>)) commits++;
        return result;
      },
      { step: 'initialize', name: 'countCommits' },
    );
    const rests: Array<Promise<unknown>> = [];
    const port = newPort(world, { client, finishAfterResponse: (rest) => (rests.push(rest), true) });
    // Act
    const first = await pinCall(port, { deviceId, chatJid: jids[0]!, pinned: true });
    const atFirstAnswer = { commits, pinned: pinned(jids[0]!) };
    const second = await pinCall(port, { deviceId, chatJid: jids[1]!, pinned: true });
    await Promise.all(rests);
    const { stored, server } = await versions(world, deviceId, phoneNumber);
    await closePort(port);
    // Assess
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(atFirstAnswer).toEqual({ commits: 0, pinned: true });
    expect(rests).toHaveLength(2);
    expect(commits).toBe(2);
    expect(stored).toBe(server);
    // The second call found the lease released and the first call's connection kept: one login in all.
    expect(world.sim.connections(deviceJid)).toMatchObject({ total: 1 });
    expect(world.sim.violations).toEqual([]);
  });
});
