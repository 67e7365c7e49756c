import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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

describe('x', () => {
  it('10 devices × 20 concurrent pins, each caller its own port: all 200, devices do not block each other', async () => {
    // Prepare: ten accounts, one linked device each, 20 callers per device. Each has 28 s (the longest
    // PIN_TIMEOUT_MS, a Lambda burst's budget): here 200 callers and 10 cold logins share one process.
    const devices = await Promise.all(
      Array.from({ length: 10 }, async (_, index) => {
        const account = world.sim.createAccount();
        const deviceId = `load-device-${index}`;
        const device = await linked(deviceId, account.phoneNumber);
        return { deviceId, account, device, ports: Array.from({ length: Number(process.env.CALLERS) }, () => newPort(world)) };
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
});
