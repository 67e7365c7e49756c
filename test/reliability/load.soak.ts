import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerLinkedDevice } from '../support/log-capture-secrets.js';
import { startWorld, type World } from '../support/simulated-world.js';
import { closePort, newPort, pinCall, sleep, versions, type Outcome } from './reliability-world.js';

// Load and concurrency against the simulator and DynamoDB Local: every call through its own WhatsApp
// port (own DynamoDB client, own Baileys state), as separate Lambda instances would run.
let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.stop();
});

describe('load and concurrency', () => {
  it('50 concurrent pins/unpins on one device: 200 or 409 busy with Retry-After, one connection at a time, the last accepted wins', async () => {
    // Prepare: requests spread over a few seconds so that several of them get the device in turn
    const linked = await world.link('load-one-device');
    registerLinkedDevice('load-one-device', linked);
    const ports = Array.from({ length: 50 }, () => newPort(world));
    // Act
    const outcomes: Outcome[] = await Promise.all(
      ports.map(async (port, i) => {
        await sleep(Math.floor(Math.random() * 12_000));
        return pinCall(port, { deviceId: 'load-one-device', chatJid: world.contactJid, pinned: i % 2 === 0 });
      }),
    );
    await Promise.all(ports.map(closePort));
    // Assess
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[`${o.status}${o.error ? ` ${o.error}` : ''}`] = (tally[`${o.status}${o.error ? ` ${o.error}` : ''}`] ?? 0) + 1;
    console.info(`load: 50 concurrent calls on one device → ${JSON.stringify(tally)}, connections ${JSON.stringify(world.sim.connections(linked.deviceJid))}`);
    const unexpected = outcomes.filter((o) => o.status !== 200 && !(o.status === 409 && Number(o.retryAfter) >= 1));
    expect(unexpected).toEqual([]);
    const accepted = outcomes.filter((o) => o.status === 200).sort((a, b) => a.endedAt - b.endedAt);
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    expect(world.sim.connections(linked.deviceJid).maxConcurrent).toBe(1);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)?.pinned).toBe(accepted.at(-1)!.pinned);
    const { stored, server } = await versions(world, 'load-one-device');
    expect(stored).toBe(server);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it('10 devices × 20 pins in parallel: all 200, devices do not block each other', async () => {
    // Prepare: ten accounts, one linked device each, each served by its own port (a Lambda instance)
    const devices = await Promise.all(
      Array.from({ length: 10 }, async (_, index) => {
        const account = world.sim.createAccount();
        const deviceId = `load-device-${index}`;
        const linked = await world.link(deviceId, account.phoneNumber);
        registerLinkedDevice(deviceId, linked);
        return { deviceId, account, linked, port: newPort(world) };
      }),
    );
    const started = Date.now();
    // Act
    const results = await Promise.all(
      devices.map(async ({ deviceId, port }) => {
        const outcomes: Outcome[] = [];
        for (let i = 0; i < 20; i++) outcomes.push(await pinCall(port, { deviceId, chatJid: world.contactJid, pinned: i % 2 === 0 }));
        return outcomes;
      }),
    );
    const elapsed = Date.now() - started;
    await Promise.all(devices.map(({ port }) => closePort(port)));
    // Assess
    expect(results.flat().filter((o) => o.status !== 200)).toEqual([]);
    for (const { deviceId, account, linked } of devices) {
      expect(world.sim.chatState(account.phoneNumber, world.contactJid)?.pinned).toBe(false);
      expect(world.sim.connections(linked.deviceJid).maxConcurrent).toBe(1);
      const { stored, server } = await versions(world, deviceId, account.phoneNumber);
      expect(stored).toBe(server);
    }
    // Devices overlapped: the run took far less than the summed busy time of the devices
    const busy = results.map((outcomes) => outcomes.reduce((sum, o) => sum + o.endedAt - o.startedAt, 0));
    expect(elapsed).toBeLessThan(busy.reduce((sum, b) => sum + b, 0) / 3);
    expect(world.sim.violations).toEqual([]);
    console.info(`load: 10 devices × 20 pins in ${elapsed} ms (sum of device times ${busy.reduce((sum, b) => sum + b, 0)} ms)`);
  }, 300_000);
});
