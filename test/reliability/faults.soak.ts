import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { StanzaMatch } from '../../lib/simulator/index.js';
import type { WhatsAppPort } from '../../lib/pin/whatsapp-port.js';
import { registerLinkedDevice } from '../support/log-capture-secrets.js';
import { startWorld, type World } from '../support/simulated-world.js';
import { expectLogs } from '../support/expected-logs.js';
import { closePort, faultyDynamoClient, internalError, isCommit, newPort, pinCall, sleep, throttled, versions, type DynamoFault, type Outcome } from './reliability-world.js';

// Every fault is followed by a successful pin on the same device. Invariants for all: never a 200
// without the server's acceptance; never a persisted version the server did not accept.
const LEASE_SECONDS = 5;
let world: World;
const ports: WhatsAppPort[] = [];
let faultsRun = 0;

beforeAll(async () => {
  world = await startWorld();
});
afterEach(() => {
  world.sim.clearFaults();
});
afterAll(async () => {
  await Promise.all(ports.map(closePort));
  await world.stop();
  console.info(`faults: ${faultsRun} injected faults, each followed by a recovering pin`);
});

/**
 * A fresh device of an account of its own (so that the chat's state and who changed it are the device's:
 * a pin of a chat already pinned sends nothing), pinned once (stored version = server version), with its
 * own port on a fault-injecting DynamoDB client.
 */
async function device(deviceId: string) {
  const { phoneNumber } = world.sim.createAccount();
  const linked = await world.link(deviceId, phoneNumber);
  registerLinkedDevice(deviceId, linked);
  const dynamo = faultyDynamoClient();
  const port = newPort(world, { client: dynamo.client, leaseSeconds: LEASE_SECONDS });
  ports.push(port);
  const pin = (pinned: boolean, deadlineMs?: number) => pinCall(port, { deviceId, chatJid: world.contactJid, pinned }, deadlineMs);
  expect((await pin(true)).status).toBe(200);
  return { deviceId, phoneNumber, linked, dynamo, port, pin, scope: { deviceJid: linked.deviceJid } };
}
type Device = Awaited<ReturnType<typeof device>>;

/**
 * Runs an unpin under the fault, checks the invariants, then pins again without the fault (waiting out
 * a lease left behind if the answer was 409) and checks that store and server converged.
 */
async function faultThenRecover(d: Device, inject: () => void | Promise<void>, options: { clear?: () => void; deadlineMs?: number } = {}) {
  const { clear = () => world.sim.setFaults([], d.scope), deadlineMs } = options;
  faultsRun++;
  // a cold call: the fault meets every stage from the handshake on
  await closePort(d.port);
  const before = await versions(world, d.deviceId, d.phoneNumber);
  world.sim.violations.length = 0;
  await inject();
  const faulted = await pinCall(d.port, { deviceId: d.deviceId, chatJid: world.contactJid, pinned: false }, deadlineMs);
  clear();
  const after = await versions(world, d.deviceId, d.phoneNumber);
  const chat = world.sim.chatState(d.phoneNumber, world.contactJid);
  if (faulted.status === 200) {
    // a 200 only with the server's acceptance: the server moved on and shows our unpin, made by this device
    expect(after.server).toBeGreaterThan(before.server);
    expect(chat).toMatchObject({ pinned: false, byDevice: d.linked.deviceJid });
  } else {
    expect([409, 500, 502, 504]).toContain(faulted.status);
  }
  expect(after.stored).toBeLessThanOrEqual(after.server);
  const recovered = await recover(d, true);
  expect(recovered.status).toBe(200);
  const final = await versions(world, d.deviceId, d.phoneNumber);
  expect(final.stored).toBe(final.server);
  expect(world.sim.chatState(d.phoneNumber, world.contactJid)).toMatchObject({ pinned: true, byDevice: d.linked.deviceJid });
  expect(world.sim.violations).toEqual([]);
  return { faulted, before, after };
}

/** A pin that honours 409 Retry-After (a lease left by the faulted call) for at most twice the lease. */
async function recover(d: Device, pinned: boolean): Promise<Outcome> {
  const until = Date.now() + 2 * LEASE_SECONDS * 1000;
  for (;;) {
    const outcome = await d.pin(pinned);
    if (outcome.status !== 409 || Date.now() > until) return outcome;
    await sleep(Number(outcome.retryAfter) * 1000);
  }
}

describe('connection dropped at every stage', () => {
  it('at the handshake (the server closes on the client hello) → 504, then recovers', async () => {
    const d = await device('fault-handshake');
    const { faulted, before, after } = await faultThenRecover(d, () => world.sim.setFaults([{ kind: 'refuse-handshake' }]), { clear: () => world.sim.clearFaults() });
    expect(faulted).toMatchObject({ status: 504, error: 'WhatsAppTimeoutError' });
    expect(after.server).toBe(before.server);
  });

  it.each<[string, StanzaMatch]>([
    ['the pre-key count IQ', { tag: 'iq', xmlns: 'encrypt', child: 'count' }],
    ['the passive IQ', { tag: 'iq', xmlns: 'passive' }],
    ['the patch, before the server processed it', { tag: 'iq', xmlns: 'w:sync:app:state' }],
  ])('at %s → an error, nothing accepted, then recovers', async (_, match) => {
    const d = await device(`fault-drop-${match.xmlns}-${match.child ?? ''}`);
    const { faulted, before, after } = await faultThenRecover(d, () => world.sim.setFaults([{ kind: 'drop-on', match }], d.scope));
    expect(faulted.status).toBe(504);
    expect(after.server).toBe(before.server);
  });

  it('at the existence check of a chat the device has not seen (usync) → 504, nothing accepted, then recovers', async () => {
    // Prepare: a chat WhatsApp confirmed is remembered (no usync for it again): this one is new
    const d = await device('fault-drop-usync');
    const chatJid = '15550444001@s.whatsapp.net';
    world.sim.registerNumber(chatJid.split('@')[0]!);
    await closePort(d.port);
    const before = await versions(world, d.deviceId, d.phoneNumber);
    world.sim.setFaults([{ kind: 'drop-on', match: { tag: 'iq', xmlns: 'usync' } }], d.scope);
    faultsRun++;
    // Act
    const faulted = await pinCall(d.port, { deviceId: d.deviceId, chatJid, pinned: true });
    world.sim.setFaults([], d.scope);
    const afterFault = await versions(world, d.deviceId, d.phoneNumber);
    const recovered = await pinCall(d.port, { deviceId: d.deviceId, chatJid, pinned: true });
    // Assess
    expect(faulted).toMatchObject({ status: 504, error: 'WhatsAppTimeoutError' });
    expect(afterFault.server).toBe(before.server);
    expect(recovered.status).toBe(200);
    expect(world.sim.chatState(d.phoneNumber, chatJid)).toMatchObject({ pinned: true, byDevice: d.linked.deviceJid });
  });

  it('at the resync after a 409 (the phone made 60 changes meanwhile) → 504, then recovers', async () => {
    const d = await device('fault-resync');
    const phone = world.sim.phone(d.phoneNumber);
    const { faulted, after, before } = await faultThenRecover(d, () =>
      world.sim.beforeNextPatch(d.phoneNumber, async () => {
        for (let i = 0; i < 60; i++) await phone.setArchived(`1555444${String(i).padStart(4, '0')}@s.whatsapp.net`, true);
        world.sim.setFaults([{ kind: 'drop-on', match: { tag: 'iq', xmlns: 'w:sync:app:state' } }], d.scope);
      }),
    );
    expect(faulted.status).toBe(504);
    expect(after.server).toBe(before.server + 60);
    expect(after.stored).toBeLessThan(after.server);
  });

  it('right after the server accepted the patch → 200 (accepted), and the next call converges', async () => {
    // Prepare: once the patch is processed, the phone changes something; the device's ack of that notification drops the line
    const d = await device('fault-after-answer');
    const phone = world.sim.phone(d.phoneNumber);
    const acksBefore = world.sim.record.filter((r) => r.deviceJid === d.linked.deviceJid && r.direction === 'in' && r.tag === 'ack').length;
    const { faulted } = await faultThenRecover(d, () =>
      world.sim.beforeNextPatch(d.phoneNumber, () => {
        world.sim.setFaults([{ kind: 'drop-on', match: { tag: 'ack' } }], d.scope);
        setTimeout(() => void phone.setArchived('15554449999@s.whatsapp.net', true), 20);
      }),
    );
    expect(faulted.status).toBe(200);
    expect(world.sim.record.filter((r) => r.deviceJid === d.linked.deviceJid && r.direction === 'in' && r.tag === 'ack').length).toBeGreaterThan(acksBefore);
  });

  it('the server answers the patch with an error (500) → 502, nothing accepted, then recovers', async () => {
    const d = await device('fault-iq-error');
    const { faulted, before, after } = await faultThenRecover(d, () =>
      world.sim.setFaults([{ kind: 'iq-error', match: { tag: 'iq', xmlns: 'w:sync:app:state' }, code: 500, text: 'internal-server-error' }], d.scope),
    );
    expect(faulted.status).toBe(502);
    expect(after.server).toBe(before.server);
  });
});

describe('DynamoDB failures at the SDK edge', () => {
  const dynamoFault = (d: Device, faults: DynamoFault[]) => faultThenRecover(d, () => d.dynamo.set(faults), { clear: () => d.dynamo.clear() });

  it('the session load fails (every SDK attempt) → 500 without connecting, lease released, then recovers', async () => {
    const d = await device('fault-ddb-load');
    await closePort(d.port);
    const connections = world.sim.connections(d.linked.deviceJid).total;
    const { faulted } = await dynamoFault(d, [{ command: 'QueryCommand', error: internalError }]);
    expect(faulted).toMatchObject({ status: 500 });
    expect(world.sim.connections(d.linked.deviceJid).total).toBe(connections + 1);
  });

  it('the final commit fails after WhatsApp accepted → 200, nothing persisted, the next call converges', async () => {
    const d = await device('fault-ddb-commit');
    const { result: { faulted, after }, logs } = await expectLogs(() => dynamoFault(d, [{ command: 'TransactWriteItemsCommand', when: isCommit, error: internalError }]));
    expect(faulted.status).toBe(200);
    expect(after.stored).toBeLessThan(after.server);
    // A store that fails after WhatsApp accepted needs a person: one ERROR, which says the pin was accepted
    expect(logs.filter((line) => line.level === 'ERROR')).toEqual([expect.objectContaining({ message: 'session commit failed', pinAccepted: true })]);
  });

  it('throttling on every first attempt (ProvisionedThroughputExceeded) is absorbed by the SDK retries → 200', async () => {
    const d = await device('fault-ddb-throttle');
    const commands = ['UpdateItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'TransactWriteItemsCommand'];
    const injected = d.dynamo.injected();
    const { faulted } = await dynamoFault(d, commands.map((command) => ({ command, error: throttled, times: 1 })));
    expect(faulted.status).toBe(200);
    expect(d.dynamo.injected() - injected).toBeGreaterThanOrEqual(3);
  });

  it('persistent throttling of the lease → an error without connecting, then recovers', async () => {
    const d = await device('fault-ddb-throttle-lease');
    const { faulted } = await dynamoFault(d, [{ command: 'UpdateItemCommand', error: throttled }]);
    expect(faulted.status).toBeGreaterThanOrEqual(500);
  });
});

describe('leases and deadlines', () => {
  it('the lease expires mid-call and another invocation takes over: the older call cannot write (fencing)', async () => {
    // Prepare: a port whose lease lasts 1 s; right before its patch is processed, an intruder takes the expired lease
    const d = await device('fault-lease-takeover');
    const shortLease = newPort(world, { leaseSeconds: 1 });
    ports.push(shortLease);
    let intruder: Awaited<ReturnType<World['store']['acquireLease']>> | undefined;
    const before = await versions(world, d.deviceId, d.phoneNumber);
    world.sim.beforeNextPatch(d.phoneNumber, async () => {
      for (let attempt = 0; !intruder && attempt < 50; attempt++) {
        intruder = await world.store.acquireLease(d.deviceId, 'intruder', 30).catch(() => undefined);
        if (!intruder) await sleep(100);
      }
    });
    faultsRun++;
    // Act
    const older = await pinCall(shortLease, { deviceId: d.deviceId, chatJid: world.contactJid, pinned: false });
    // Assess: WhatsApp accepted the older call's patch (so 200 is true), but its commit was fenced out
    expect(intruder).toBeDefined();
    expect(older.status).toBe(200);
    const after = await versions(world, d.deviceId, d.phoneNumber);
    expect(after.server).toBe(before.server + 1);
    expect(after.stored).toBe(before.stored);
    const lease = await world.client.send(new GetItemCommand({ TableName: world.table, Key: { pk: { S: d.deviceId }, sk: { S: 'lease' } }, ConsistentRead: true }));
    expect(lease.Item?.owner?.S).toBe('intruder');
    // the intruder finishes; the device recovers
    await world.store.releaseLease(intruder!);
    expect((await recover(d, true)).status).toBe(200);
    const final = await versions(world, d.deviceId, d.phoneNumber);
    expect(final.stored).toBe(final.server);
  });

  it('the lease expires mid-call and a second invocation runs meanwhile: the newer one wins, the older one writes nothing', async () => {
    // Prepare: a slow line (every frame 250 ms late) and a 1 s lease for the older call
    const d = await device('fault-lease-race');
    await closePort(d.port);
    const older = newPort(world, { leaseSeconds: 1 });
    const newer = newPort(world, { leaseSeconds: LEASE_SECONDS });
    ports.push(older, newer);
    world.sim.setFaults([{ kind: 'latency', ms: 250 }], d.scope);
    faultsRun++;
    // Act
    const first = pinCall(older, { deviceId: d.deviceId, chatJid: world.contactJid, pinned: false });
    await sleep(1_500);
    const second = await pinCall(newer, { deviceId: d.deviceId, chatJid: world.contactJid, pinned: true });
    const firstOutcome = await first;
    world.sim.setFaults([], d.scope);
    // Assess
    expect(second.status).toBe(200);
    expect([200, 409, 504]).toContain(firstOutcome.status);
    expect(world.sim.chatState(d.phoneNumber, world.contactJid)).toMatchObject({ pinned: true, byDevice: d.linked.deviceJid });
    const after = await versions(world, d.deviceId, d.phoneNumber);
    expect(after.stored).toBe(after.server);
    expect((await recover(d, true)).status).toBe(200);
    expect(world.sim.violations).toEqual([]);
  });

  it('the deadline is hit (slow WhatsApp) → 504 within the deadline, lease released, then recovers', async () => {
    const d = await device('fault-deadline');
    const deadlineMs = 3_000;
    const { faulted, before, after } = await faultThenRecover(d, () => world.sim.setFaults([{ kind: 'latency', ms: 400 }], d.scope), { deadlineMs });
    expect(faulted).toMatchObject({ status: 504, error: 'WhatsAppTimeoutError' });
    expect(faulted.endedAt - faulted.startedAt).toBeLessThan(deadlineMs + 500);
    expect(after.server).toBe(before.server);
  });
});
