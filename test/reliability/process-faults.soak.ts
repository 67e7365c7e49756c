import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { lambdaContext, loadEvent } from '../support/events.js';
import { isolatedHandler } from '../support/handler-calls.js';
import { registerLinkedDevice } from '../support/log-capture-secrets.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';
import { closePort, newPort, pinCall, sleep, versions } from './reliability-world.js';

// The real handler under a Lambda deadline, and in a process of its own killed mid-call. Only Secrets
// Manager is a loopback stand-in; DynamoDB Local and the simulator are real.
const LEASE_SECONDS = 5;
const CHAT = '6289685028129@s.whatsapp.net';
let world: HandlerWorld;

beforeAll(async () => {
  world = await startHandlerWorld({ LEASE_SECONDS: String(LEASE_SECONDS) });
});
afterAll(async () => {
  await world.stop();
});

async function linked(deviceId: string) {
  const device = await world.link(deviceId);
  registerLinkedDevice(deviceId, device);
  return device;
}

/** A pin in a child process running the real handler; its output goes to the run's log capture. */
function childPin(deviceId: string, env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<{ code: number | null; signal: string | null; output: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'pin-child.ts')], {
    env: { ...process.env, NODE_OPTIONS: '', DEFAULT_DEVICE_ID: deviceId, SIM_ROOT_PUBLIC_KEY: Buffer.from(world.sim.rootPublicKey).toString('base64'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const capture = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (process.env.LOG_CAPTURE_DIR) appendFileSync(join(process.env.LOG_CAPTURE_DIR, `child-${child.pid}.log`), chunk);
  };
  child.stdout!.on('data', capture);
  child.stderr!.on('data', capture);
  const exited = new Promise<{ code: number | null; signal: string | null; output: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output })));
  return { child, exited };
}

describe('the real handler under process faults', () => {
  it('a child process pins end to end (the harness works)', async () => {
    await linked('child-ok');
    const { exited } = childPin('child-ok');
    const { code, output } = await exited;
    expect(code).toBe(0);
    expect(JSON.parse(output.split('RESULT ')[1]!)).toMatchObject({ statusCode: 200 });
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: true });
  }, 60_000);

  it.each([
    ['while it logs in', 'login'],
    ['right as WhatsApp processes its patch', 'patch'],
  ] as const)('killed %s: the next caller waits out its lease, takes over, and the device recovers', async (_, when) => {
    // Prepare
    const device = await linked(`child-killed-${when}`);
    const deviceId = `child-killed-${when}`;
    const { child, exited } = childPin(deviceId);
    if (when === 'patch') world.sim.beforeNextPatch(world.account.phoneNumber, () => void child.kill('SIGKILL'));
    else {
      while (world.sim.connections(device.deviceJid).total === 0) await sleep(5);
      child.kill('SIGKILL');
    }
    // Act
    const { signal } = await exited;
    const port = newPort(world, { leaseSeconds: LEASE_SECONDS });
    const next = await pinCall(port, { deviceId, chatJid: CHAT, pinned: false });
    await closePort(port);
    // Assess: the dead process held the lease until it expired, wrote nothing the server did not accept, then the device worked
    expect(signal).toBe('SIGKILL');
    expect(next.status).toBe(200);
    expect(next.endedAt - next.startedAt).toBeLessThan(LEASE_SECONDS * 1000 + 5_000);
    expect(world.sim.chatState(world.account.phoneNumber, CHAT)).toMatchObject({ pinned: false, byDevice: device.deviceJid });
    const { stored, server } = await versions(world, deviceId);
    expect(stored).toBe(server);
    expect(world.sim.violations).toEqual([]);
  }, 60_000);

  it('the holder is killed mid-queue, its batch already at WhatsApp: the waiting callers complete after its lease expires, nothing lost or doubled', async () => {
    // Prepare: a child holds the device (its own pin goes first); four callers queue a chat each meanwhile;
    // the child dies right as WhatsApp takes the patch of their batch (it lands, but no answer is written)
    const { phoneNumber } = world.sim.createAccount();
    const deviceId = 'child-killed-mid-queue';
    const device = await world.link(deviceId, phoneNumber);
    registerLinkedDevice(deviceId, device);
    world.sim.registerNumber(CHAT.split('@')[0]!);
    const chats = ['15550600001', '15550600002', '15550600003', '15550600004'].map((n) => (world.sim.registerNumber(n), `${n}@s.whatsapp.net`));
    world.sim.setFaults([{ kind: 'latency', ms: 100 }], { deviceJid: device.deviceJid });
    world.sim.phone(phoneNumber).pinLimit = undefined; // five chats end up pinned: this phone keeps them all
    const { child, exited } = childPin(deviceId, { MAX_PINNED_CHATS: '0' });
    world.sim.beforeNextPatch(phoneNumber, () => world.sim.beforeNextPatch(phoneNumber, () => void child.kill('SIGKILL')));
    while (world.sim.connections(device.deviceJid).total === 0) await sleep(5);
    const before = world.sim.appStateVersion(phoneNumber, 'regular_low');
    const ports = chats.map(() => newPort(world, { leaseSeconds: LEASE_SECONDS }));
    // Act
    const waiting = Promise.all(ports.map((port, i) => pinCall(port, { deviceId, chatJid: chats[i]!, pinned: true }, 25_000)));
    const { signal } = await exited;
    world.sim.setFaults([], { deviceJid: device.deviceJid });
    const outcomes = await waiting;
    await Promise.all(ports.map(closePort));
    // Assess
    expect(signal).toBe('SIGKILL');
    expect(outcomes.map((o) => o.status)).toEqual([200, 200, 200, 200]);
    expect(outcomes.every((o) => o.endedAt - o.startedAt < 25_000)).toBe(true);
    for (const chat of [CHAT, ...chats]) expect(world.sim.chatState(phoneNumber, chat)?.pinned).toBe(true);
    // the child's own patch and its batch's: nothing re-applied after the takeover
    expect(world.sim.appStateVersion(phoneNumber, 'regular_low')).toBe(before + 2);
    expect(world.sim.violations).toEqual([]);
  }, 90_000);

  it('the Lambda deadline is hit: 504 in the envelope before the function times out, then the device pins', async () => {
    // Prepare: a cold handler with 4 s left; WhatsApp answers every frame 400 ms late
    const device = await linked('handler-deadline');
    process.env.DEFAULT_DEVICE_ID = 'handler-deadline';
    const handler = await isolatedHandler();
    world.sim.setFaults([{ kind: 'latency', ms: 400 }], { deviceJid: device.deviceJid });
    const started = Date.now();
    // Act
    const response = (await handler(loadEvent('api-gateway-v2', 'pin'), lambdaContext(4_000))) as APIGatewayProxyResult;
    const elapsed = Date.now() - started;
    world.sim.setFaults([], { deviceJid: device.deviceJid });
    const next = (await handler(loadEvent('api-gateway-v2', 'pin'), lambdaContext(29_000))) as APIGatewayProxyResult;
    // Assess
    expect(response.statusCode).toBe(504);
    expect(JSON.parse(response.body)).toEqual({ code: 'GATEWAY_TIMEOUT', message: 'WhatsApp did not answer in time', results: {} });
    expect(elapsed).toBeLessThan(4_000);
    // (the patch may still have reached WhatsApp late: a 504 says "unknown", never "accepted")
    const after = await versions(world, 'handler-deadline');
    expect(after.stored).toBeLessThanOrEqual(after.server);
    expect(next.statusCode).toBe(200);
    const final = await versions(world, 'handler-deadline');
    expect(final.stored).toBe(final.server);
  }, 60_000);
});
