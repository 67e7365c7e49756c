import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { WhatsAppTimeoutError } from '../../../lib/errors.js';
import { openSessionAuthState } from '../../../lib/session/session-auth-state.js';
import { WaSocket } from '../../../lib/whatsapp/wa-socket.js';
import { startWorld, type World } from '../../support/simulated-world.js';

let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A WaSocket on a freshly linked device's stored session, whose login waits for the returned `decide`. */
async function heldSocket(deviceId: string) {
  const linked = await world.link(deviceId);
  const lease = await world.store.acquireLease(deviceId, randomUUID(), 30);
  const auth = openSessionAuthState(world.store, lease, await world.store.load(deviceId));
  let decide!: (login: boolean) => void;
  const loginGate = new Promise<boolean>((resolve) => (decide = resolve));
  const handshakes = world.sim.connections().total;
  const socket = new WaSocket(auth, { deviceId, wsUrl: world.sim.url, openBy: Date.now() + 10_000, loginGate });
  // The hello is answered by now: the connection waits at its login.
  while (world.sim.connections().total === handshakes) await sleep(5);
  await sleep(200);
  return { linked, socket, decide, release: () => world.store.releaseLease(lease) };
}

describe('WaSocket: a login held until it is decided', () => {
  it('sends only the Noise hello until told to log in, then logs in and opens', async () => {
    // Prepare
    const { linked, socket, decide, release } = await heldSocket('held-login');
    const loginsWhileHeld = world.sim.connections(linked.deviceJid).total;
    // Act
    decide(true);
    await socket.open();
    await socket.settle(Date.now() + 2_000); // Baileys' own work after login writes under the lease
    await socket.end();
    await release();
    // Assess
    expect(loginsWhileHeld).toBe(0);
    expect(world.sim.connections(linked.deviceJid).total).toBe(1);
    expect(world.sim.violations).toEqual([]);
  });

  it('told not to log in, it closes without having said which device it is', async () => {
    // Prepare
    const { linked, socket, decide, release } = await heldSocket('withheld-login');
    // Act
    decide(false);
    await socket.closed;
    await release();
    // Assess
    expect(socket.isClosed).toBe(true);
    expect(world.sim.connections(linked.deviceJid).total).toBe(0);
    expect(world.sim.connections().live).toBe(0);
    expect(world.sim.violations).toEqual([]);
  });
});

describe('WaSocket: a server that never answers', () => {
  it('accepting the connection but not the WebSocket upgrade: open() fails at its deadline, and end() closes it', async () => {
    // Prepare
    const deviceId = 'silent-server';
    await world.link(deviceId);
    const accepted: Socket[] = [];
    const silent = createServer((socket) => void accepted.push(socket.on('error', () => undefined).resume()));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const lease = await world.store.acquireLease(deviceId, randomUUID(), 30);
    const auth = openSessionAuthState(world.store, lease, await world.store.load(deviceId));
    const started = Date.now();
    const socket = new WaSocket(auth, { deviceId, wsUrl: `ws://127.0.0.1:${port}/ws/chat`, openBy: started + 800 });
    // Act
    const failure = await socket.open().then(() => undefined, (error: unknown) => error);
    const failedAfter = Date.now() - started;
    await socket.end();
    await world.store.releaseLease(lease);
    const closedByClient = await new Promise<boolean>((resolve) => {
      if (accepted[0]?.destroyed) return resolve(true);
      accepted[0]?.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 2_000);
    });
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    // Assess
    expect(failure).toBeInstanceOf(WhatsAppTimeoutError);
    expect(failedAfter).toBeGreaterThanOrEqual(790);
    expect(failedAfter).toBeLessThan(2_000);
    expect(accepted).toHaveLength(1);
    expect(socket.isClosed).toBe(true);
    expect(closedByClient).toBe(true);
  });
});
