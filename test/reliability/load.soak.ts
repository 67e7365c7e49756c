import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DeviceQueue } from '../../lib/device-turns/device-queue.js';
import { coldHandler, postPin, type Handler } from '../support/handler-calls.js';
import { registerLinkedDevice } from '../support/log-capture-secrets.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';
import { closePort, newPort, pinCall, sleep, versions, type Outcome } from './reliability-world.js';

// Load and concurrency against the simulator and DynamoDB Local. Every caller is an instance of its own:
// a handler of its own module graph (config, clients, Baileys, kept connections), or a WhatsApp port of its own.
let world: HandlerWorld;

beforeAll(async () => {
  world = await startHandlerWorld();
});
afterAll(async () => {
  await world.stop();
});

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil(p * values.length) - 1)]!;

async function linked(deviceId: string, phoneNumber = world.account.phoneNumber) {
  const device = await world.link(deviceId, phoneNumber);
  registerLinkedDevice(deviceId, device);
  return device;
}

describe('load and concurrency', () => {
  it('10 devices × 20 concurrent pins, each caller its own port: all 200, devices do not block each other', async () => {
    // Prepare: ten accounts, one linked device each, 20 callers per device. Each has 28 s (the longest
    // PIN_TIMEOUT_MS, a Lambda burst's budget): here 200 callers and 10 cold logins share one process.
    // (It runs first: the next test's 50 handler module graphs stay in this process's heap, ~750 MB of it.)
    const devices = await Promise.all(
      Array.from({ length: 10 }, async (_, index) => {
        const account = world.sim.createAccount();
        const deviceId = `load-device-${index}`;
        const device = await linked(deviceId, account.phoneNumber);
        return { deviceId, account, device, ports: Array.from({ length: 20 }, () => newPort(world)) };
      }),
    );
    const started = Date.now();
    // Act
    const results = await Promise.all(
      devices.map(({ deviceId, ports }) => Promise.all(ports.map((port, i) => pinCall(port, { deviceId, chatJid: world.contactJid, pinned: i % 2 === 0 }, 28_000)))),
    );
    const elapsed = Date.now() - started;
    await Promise.all(devices.flatMap(({ ports }) => ports.map(closePort)));
    // Assess
    const logins = devices.reduce((sum, { device }) => sum + world.sim.connections(device.deviceJid).total, 0);
    console.info(`load: 10 devices × 20 concurrent pins in ${elapsed} ms; ${logins} WhatsApp logins (${logins / 2} per 100 pins)`);
    expect(results.flat().filter((o) => o.status !== 200)).toEqual([]);
    for (const { deviceId, account, device } of devices) {
      expect(world.sim.connections(device.deviceJid).maxConcurrent).toBe(1);
      const { stored, server } = await versions(world, deviceId, account.phoneNumber);
      expect(stored).toBe(server);
    }
    expect(world.sim.violations).toEqual([]);
  }, 300_000);

  it('50 concurrent pins on one device, each through a handler instance of its own: 50 answers of their own, at most 2 logins, the last request per chat decides', async () => {
    // Prepare: 3 chats (the cap of 3 never refuses); 47 requests spread over a second, then the last one of each chat
    const device = await linked('load-one-device');
    const chats = ['6289685028129', '15550500001', '15550500002'].map((n) => (world.sim.registerNumber(n), `${n}@s.whatsapp.net`));
    const handlers: Handler[] = [];
    for (let i = 0; i < 50; i++) handlers.push(await coldHandler());
    const requests = handlers.map((handler, i) => ({ handler, chatJid: chats[i % 3]!, pinned: Math.random() < 0.5, at: i < 47 ? Math.floor(Math.random() * 1_000) : 1_300 }));
    const last = new Map(requests.slice(47).map((request) => [request.chatJid, request.pinned]));
    // The device orders requests by arrival: the last three leave once the 46 behind the first holder are queued
    // (on a starved machine a request can take seconds to reach the device), or after 10 s at most.
    const queue = new DeviceQueue(world.client, world.table);
    const othersQueued = (async () => {
      for (const until = Date.now() + 10_000; Date.now() < until && (await queue.read('load-one-device')).seq < 46; ) await sleep(50);
    })();
    // Act
    const started = Date.now();
    const answers = await Promise.all(
      requests.map(async ({ handler, chatJid, pinned, at }, i) => {
        await sleep(at);
        if (i >= 47) await othersQueued;
        const begin = Date.now();
        const answer = await postPin(handler, { deviceId: 'load-one-device', chatJid, pinned });
        return { ...answer, ms: Date.now() - begin };
      }),
    );
    const elapsed = Date.now() - started;
    // Assess
    const tally: Record<string, number> = {};
    for (const answer of answers) tally[`${answer.status} ${answer.body.message}`] = (tally[`${answer.status} ${answer.body.message}`] ?? 0) + 1;
    const latencies = answers.map((answer) => answer.ms);
    const logins = world.sim.connections(device.deviceJid).total;
    console.info(`load: 50 concurrent pins on one device → ${JSON.stringify(tally)}; ${logins} WhatsApp login(s) (${(logins / 50) * 100} per 100 pins); p50 ${percentile(latencies, 0.5)} ms, p95 ${percentile(latencies, 0.95)} ms; all answered in ${elapsed} ms`);
    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(200));
    expect(logins).toBeLessThanOrEqual(2);
    expect(world.sim.connections(device.deviceJid).maxConcurrent).toBe(1);
    for (const [chatJid, pinned] of last) expect(world.sim.chatState(world.account.phoneNumber, chatJid)?.pinned ?? false).toBe(pinned);
    const { stored, server } = await versions(world, 'load-one-device');
    expect(stored).toBe(server);
    expect(world.sim.violations).toEqual([]);
  }, 240_000);
});

/**
 * A Lambda-like dispatcher: a pool of instances (WhatsApp ports); a request goes to an idle instance
 * when one exists (the most recently used, as Lambda tends to), to a new one otherwise.
 */
function dispatcher() {
  const idle: Array<ReturnType<typeof newPort>> = [];
  const all: Array<ReturnType<typeof newPort>> = [];
  return {
    async pin(deviceId: string, chatJid: string, pinned: boolean): Promise<Outcome> {
      const port = idle.pop() ?? newPort(world);
      if (!all.includes(port)) all.push(port);
      try {
        return await pinCall(port, { deviceId, chatJid, pinned }, 20_000);
      } finally {
        idle.push(port);
      }
    },
    instances: () => all.length,
    close: () => Promise.all(all.map(closePort)),
  };
}

describe('account safety under a Lambda-like dispatcher: WhatsApp logins per 100 pins', () => {
  it('a steady pin a second on one device', async () => {
    // Prepare
    const device = await linked('steady');
    const pool = dispatcher();
    // Act
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 30; i++) {
      outcomes.push(await pool.pin('steady', world.contactJid, i % 2 === 0));
      await sleep(Math.max(0, 1_000 - (outcomes.at(-1)!.endedAt - outcomes.at(-1)!.startedAt)));
    }
    await pool.close();
    // Assess
    const logins = world.sim.connections(device.deviceJid).total;
    console.info(`dispatcher: 30 pins at 1 pin/s → ${pool.instances()} instance(s), ${logins} login(s): ${((logins / 30) * 100).toFixed(1)} per 100 pins`);
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(logins).toBe(1);
  }, 120_000);

  it('bursts of 20 pins on one device', async () => {
    // Prepare
    const device = await linked('bursts');
    const pool = dispatcher();
    // Act: 5 bursts, 3 s apart
    const outcomes: Outcome[] = [];
    for (let burst = 0; burst < 5; burst++) {
      outcomes.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => pool.pin('bursts', world.contactJid, i % 2 === 0)))));
      await sleep(3_000);
    }
    await pool.close();
    // Assess
    const logins = world.sim.connections(device.deviceJid).total;
    console.info(`dispatcher: 5 bursts of 20 pins → ${pool.instances()} instance(s), ${logins} login(s): ${logins} per 100 pins`);
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(logins).toBeLessThanOrEqual(5);
  }, 180_000);
});
