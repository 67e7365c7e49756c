import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { pinPolicy } from '../../../lib/pin/pin-policy.js';
import type { WhatsAppPort } from '../../../lib/pin/whatsapp-port.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { trustRootInProcess } from '../../../lib/whatsapp/process-root.js';
import { generateKeyPair } from '../../../lib/simulator/curve25519.js';
import { attachRequestCounter } from '../../../lib/session/request-counter.js';
import { closePort, newPort, pinCall } from '../../reliability/reliability-world.js';
import { startWorld, type World } from '../../support/simulated-world.js';
import { connectClient, endClient, memoryAuth, type Client } from '../simulator/baileys-client.js';

let world: World;
let whatsapp: WhatsAppPort;
const context = () => ({ deadline: Date.now() + 15_000, invocationId: randomUUID() });
// One simulated account serves every device of this file: its pinned chats add up, so no cap here (the cap has its own tests).
const plan = pinPolicy(0);

beforeAll(async () => {
  world = await startWorld();
  world.sim.phone(world.account.phoneNumber).pinLimit = undefined; // the phone keeps every pin too
  whatsapp = newPort(world);
});
afterAll(async () => {
  await closePort(whatsapp);
  await world.stop();
});

describe('the WhatsApp port (device turns over Baileys connections) against the simulator and DynamoDB Local', () => {
  it('pins and unpins; the simulator verified the patches and the store follows its version', async () => {
    // Prepare
    const linked = await world.link('pin-unpin');
    // Act
    await whatsapp.setChatPinned({ deviceId: 'pin-unpin', chatJid: world.contactJid, pinned: true }, context(), plan);
    const afterPin = world.sim.chatState(world.account.phoneNumber, world.contactJid);
    await whatsapp.setChatPinned({ deviceId: 'pin-unpin', chatJid: world.contactJid, pinned: false }, context(), plan);
    // Assess
    expect(afterPin).toMatchObject({ pinned: true, byDevice: linked.deviceJid });
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
    const snapshot = await world.store.load('pin-unpin');
    expect(snapshot.keys['app-state-meta']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
    expect(world.sim.violations).toEqual([]);
  });
});

describe('the WhatsApp port: whom it talks to', () => {
  it('refuses a server whose certificate chain another root signed: nothing is sent, the session is kept', async () => {
    // Prepare: this process trusts a root the simulator does not sign with
    await world.link('foreign-root');
    trustRootInProcess(generateKeyPair().public);
    const port = newPort(world);
    const before = world.sim.appStateVersion(world.account.phoneNumber, 'regular_low');
    // Act
    const refused = await pinCall(port, { deviceId: 'foreign-root', chatJid: world.contactJid, pinned: true }, 5_000);
    trustRootInProcess(world.sim.rootPublicKey);
    const trustedAgain = await pinCall(port, { deviceId: 'foreign-root', chatJid: world.contactJid, pinned: true }, 10_000);
    await closePort(port);
    // Assess
    expect(refused).toMatchObject({ status: 504, error: 'WhatsAppTimeoutError' });
    expect(trustedAgain.status).toBe(200);
    expect(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low')).toBe(before + 1);
  });
});

describe('the WhatsApp port: conflicts, faults and missing chats', () => {
  const phone = () => world.sim.phone(world.account.phoneNumber);
  const pin = (deviceId: string, chatJid = world.contactJid, pinned = true, ctx = context()) => whatsapp.setChatPinned({ deviceId, chatJid, pinned }, ctx, plan);
  const storedVersion = async (deviceId: string) => (await world.store.load(deviceId)).keys['app-state-meta']?.regular_low?.version;
  const serverVersion = () => world.sim.appStateVersion(world.account.phoneNumber, 'regular_low');

  it('catches up with what the phone changed since our last call (409 on the stored version, one retry)', async () => {
    // Prepare
    await world.link('phone-changed');
    await pin('phone-changed');
    await phone().setPinned('15559990001@s.whatsapp.net', true);
    await phone().setArchived('15559990002@s.whatsapp.net', true);
    // Act
    await pin('phone-changed', world.contactJid, false);
    // Assess
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
    expect(await storedVersion('phone-changed')).toBe(serverVersion());
    expect(world.sim.violations).toEqual([]);
  });

  it('the phone changes app state between our sync and our patch: 409, catch up, retry, 200', async () => {
    // Prepare
    await world.link('race');
    await pin('race');
    world.sim.beforeNextPatch(world.account.phoneNumber, () => phone().setPinned('15559990003@s.whatsapp.net', true));
    // Act
    await pin('race', world.contactJid, false);
    // Assess
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
    expect(world.sim.chatState(world.account.phoneNumber, '15559990003@s.whatsapp.net')).toMatchObject({ pinned: true });
    expect(await storedVersion('race')).toBe(serverVersion());
    expect(world.sim.violations).toEqual([]);
  });

  it('the phone wins every race (409 after 409) → WhatsAppRejectedError after 4 attempts; only server-accepted state is stored', async () => {
    // Prepare
    await world.link('two-conflicts');
    await pin('two-conflicts');
    let races = 0;
    const race = async () => {
      races++;
      await phone().setArchived(`1555999${String(races).padStart(4, '0')}@s.whatsapp.net`, true);
      world.sim.beforeNextPatch(world.account.phoneNumber, race);
    };
    world.sim.beforeNextPatch(world.account.phoneNumber, race);
    // Act
    const outcome = pin('two-conflicts', world.contactJid, false);
    // Assess
    await expect(outcome).rejects.toMatchObject({ name: 'WhatsAppRejectedError' });
    world.sim.beforeNextPatch(world.account.phoneNumber, () => undefined);
    expect(races).toBe(4);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: true });
    expect(await storedVersion('two-conflicts')).toBeLessThanOrEqual(serverVersion());
    await pin('two-conflicts', world.contactJid, false);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
    expect(world.sim.violations).toEqual([]);
  });

  it('a chat WhatsApp confirmed exists is remembered with the session: a cold call on it again sends no usync', async () => {
    // Prepare: a first call confirms the chat, then the instance is gone
    const linked = await world.link('known-chat');
    const first = newPort(world);
    await pinCall(first, { deviceId: 'known-chat', chatJid: world.contactJid, pinned: true });
    await closePort(first);
    world.sim.clearRecord();
    // Act: a new instance, cold
    const second = newPort(world);
    const answer = await pinCall(second, { deviceId: 'known-chat', chatJid: world.contactJid, pinned: false });
    await closePort(second);
    // Assess
    expect(answer.status).toBe(200);
    expect(world.sim.record.filter((r) => r.deviceJid === linked.deviceJid && r.direction === 'in' && r.xmlns === 'usync')).toEqual([]);
  });

  it('a number that is not on WhatsApp → ChatNotFoundError, nothing uploaded', async () => {
    await world.link('not-on-whatsapp');
    const before = serverVersion();
    await expect(pin('not-on-whatsapp', '15550009999@s.whatsapp.net')).rejects.toMatchObject({ name: 'ChatNotFoundError' });
    expect(serverVersion()).toBe(before);
  });

  it('a group the account is not in, or that does not exist → ChatNotFoundError', async () => {
    // Prepare
    await world.link('groups');
    const theirs = world.sim.createGroup({ subject: 'not ours', participants: ['15550001234'] });
    const ours = world.sim.createGroup({ subject: 'ours', participants: [world.account.phoneNumber, '15550001234'] });
    // Act / Assess
    await expect(pin('groups', theirs)).rejects.toMatchObject({ name: 'ChatNotFoundError' });
    await expect(pin('groups', '120363999999999999@g.us')).rejects.toMatchObject({ name: 'ChatNotFoundError' });
    await pin('groups', ours);
    expect(world.sim.chatState(world.account.phoneNumber, ours)).toMatchObject({ pinned: true });
  });

  it('a LID chat WhatsApp knows is pinned; a LID it does not know → ChatNotFoundError, nothing pinned', async () => {
    await world.link('lid');
    world.sim.registerNumber('15550009999', '123456789012345');
    await pin('lid', '123456789012345@lid');
    await expect(pin('lid', '12345678901234@lid')).rejects.toMatchObject({ name: 'ChatNotFoundError' });
    expect(world.sim.chatState(world.account.phoneNumber, '123456789012345@lid')).toMatchObject({ pinned: true });
    expect(world.sim.chatState(world.account.phoneNumber, '12345678901234@lid')).toBeUndefined();
  });

  it('an unknown device → NotLoggedInError without connecting', async () => {
    const connections = world.sim.connections().total;
    await expect(pin('never-linked')).rejects.toMatchObject({ name: 'NotLoggedInError', reason: 'absent' });
    expect(world.sim.connections().total).toBe(connections);
  });

  it('a device the phone removed → NotLoggedInError, the session is marked logged out, and the next call does not connect', async () => {
    // Prepare
    const linked = await world.link('removed');
    world.sim.unlinkDevice(linked.deviceJid);
    // Act
    await expect(pin('removed')).rejects.toMatchObject({ name: 'NotLoggedInError', reason: 'logged-out' });
    const connections = world.sim.connections().total;
    // Assess
    expect((await world.store.load('removed')).state).toBe('logged-out');
    await expect(pin('removed')).rejects.toMatchObject({ name: 'NotLoggedInError', reason: 'logged-out' });
    expect(world.sim.connections().total).toBe(connections);
  });

  it('WhatsApp never answers the patch → WhatsAppTimeoutError by the deadline; no version persisted', async () => {
    // Prepare
    const linked = await world.link('silent');
    await pin('silent');
    const before = await storedVersion('silent');
    world.sim.setFaults([{ kind: 'ignore', match: { xmlns: 'w:sync:app:state' } }], { deviceJid: linked.deviceJid });
    const started = Date.now();
    // Act
    await expect(pin('silent', world.contactJid, false, { deadline: Date.now() + 3_000, invocationId: randomUUID() })).rejects.toMatchObject({ name: 'WhatsAppTimeoutError' });
    // Assess
    expect(Date.now() - started).toBeLessThan(3_500);
    expect(await storedVersion('silent')).toBe(before);
    world.sim.setFaults([], { deviceJid: linked.deviceJid });
    await pin('silent', world.contactJid, false);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
  });

  it('the connection drops while the patch is in flight → WhatsAppTimeoutError (outcome unknown); the next call converges', async () => {
    // Prepare
    const linked = await world.link('dropped');
    world.sim.setFaults([{ kind: 'drop-on', match: { xmlns: 'w:sync:app:state' } }], { deviceJid: linked.deviceJid });
    // Act / Assess
    await expect(pin('dropped')).rejects.toMatchObject({ name: 'WhatsAppTimeoutError' });
    world.sim.setFaults([], { deviceJid: linked.deviceJid });
    await pin('dropped');
    expect(await storedVersion('dropped')).toBe(serverVersion());
    expect(world.sim.violations).toEqual([]);
  });

  it('another connection of the same device replaces ours (stream conflict 440) → DeviceBusyError', async () => {
    // Prepare: a lease-less client elsewhere (e.g. an old Baileys server) logs in with the same session
    // while our call is still logging in (slowed down by latency so the overlap is certain)
    const linked = await world.link('replaced');
    world.sim.setFaults([{ kind: 'latency', ms: 150 }], { deviceJid: linked.deviceJid });
    // Act
    const outcome = pin('replaced');
    while (world.sim.connections(linked.deviceJid).live === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const rogue: Client = connectClient(world.sim, memoryAuth(linked.creds, linked.keys));
    // Assess
    await expect(outcome).rejects.toMatchObject({ name: 'DeviceBusyError' });
    await endClient(rogue);
    world.sim.setFaults([], { deviceJid: linked.deviceJid });
    await pin('replaced');
    expect(world.sim.violations).toEqual([]);
  });

  it('a busy account: 300 messages from 50 senders and a key share queued while away, call after call → the pin lands, the backlog is empty, others\' messages receipted unread, ≤ 6 DynamoDB requests once settled', async () => {
    // Prepare
    const { phoneNumber } = world.sim.createAccount();
    world.sim.registerNumber(world.contactJid.split('@')[0]!);
    const linked = await world.link('busy', phoneNumber);
    const round = async (pinned: boolean) => {
      await world.sim.phone(phoneNumber).rotateAppStateKey();
      await world.sim.queueContactMessages(linked.deviceJid, { senders: 50, messages: 300 });
      const client = new DynamoDBClient({});
      const counter = attachRequestCounter(client);
      const port = newPort(world, { client });
      const answer = await pinCall(port, { deviceId: 'busy', chatJid: world.contactJid, pinned });
      await closePort(port);
      client.destroy();
      return { answer, requests: counter.counts(), queue: world.sim.offlineQueue(linked.deviceJid) };
    };
    // Act: the first round also replenishes the pre-keys the new senders used, and opens the phone's LID session
    const first = await round(true);
    const second = await round(false);
    // Assess
    console.info(`busy account, first call: ${first.requests.requests} DynamoDB requests ${JSON.stringify(first.requests.byCommand)}; second: ${second.requests.requests} ${JSON.stringify(second.requests.byCommand)}; queue ${JSON.stringify(second.queue)}`);
    for (const { answer, queue } of [first, second]) {
      expect(answer.status).toBe(200);
      expect(queue).toMatchObject({ queued: 0, retryReceipts: 0 });
    }
    expect(second.queue.receiptTypes.inactive).toBe(600);
    expect(second.requests.requests).toBeLessThanOrEqual(6);
    expect(world.sim.chatState(phoneNumber, world.contactJid)?.pinned).toBe(false);
    expect(world.sim.violations).toEqual([]);
  });

  it('200 queued offline messages do not push the pin past its deadline', async () => {
    // Prepare
    const linked = await world.link('offline');
    world.sim.queueOfflineMessages(linked.deviceJid, 200);
    const started = Date.now();
    // Act
    await pin('offline', world.contactJid, true, { deadline: Date.now() + 6_000, invocationId: randomUUID() });
    // Assess
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: true });
    await pin('offline', world.contactJid, false);
    expect(world.sim.violations).toEqual([]);
  });
});

describe('the WhatsApp port: a warm instance whose connection closed while it idled', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** WhatsApp closes the device's connections (as after an idle spell); resolves once the instance has seen the close. */
  const closeConnections = async (deviceJid: string) => {
    world.sim.dropConnections(deviceJid);
    while (world.sim.connections(deviceJid).live > 0) await sleep(5);
    await sleep(50);
  };
  /** A port that pinned on a newly linked device and kept its connection, which WhatsApp then closed. */
  const staleWarmLink = async (deviceId: string, client?: DynamoDBClient) => {
    const linked = await world.link(deviceId);
    const port = newPort(world, { client });
    await pinCall(port, { deviceId, chatJid: world.contactJid, pinned: true });
    await closeConnections(linked.deviceJid);
    return { linked, port };
  };

  it('logs in again over the session it holds: no session load, one new login, the pin lands and is stored', async () => {
    // Prepare
    const client = new DynamoDBClient({});
    const counter = attachRequestCounter(client);
    const { linked, port } = await staleWarmLink('reconnect', client);
    const logins = world.sim.connections(linked.deviceJid).total;
    counter.reset();
    // Act
    const answer = await pinCall(port, { deviceId: 'reconnect', chatJid: world.contactJid, pinned: false });
    const requests = counter.counts();
    const again = await pinCall(port, { deviceId: 'reconnect', chatJid: world.contactJid, pinned: true });
    await closePort(port);
    client.destroy();
    // Assess
    expect(answer.status).toBe(200);
    expect(requests.byCommand).not.toHaveProperty('QueryCommand');
    expect(world.sim.connections(linked.deviceJid).total).toBe(logins + 1);
    expect(again.status).toBe(200);
    expect(world.sim.connections(linked.deviceJid).total).toBe(logins + 1); // the new connection was kept warm
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: true });
    expect((await world.store.load('reconnect')).keys['app-state-meta']?.regular_low?.version).toBe(world.sim.appStateVersion(world.account.phoneNumber, 'regular_low'));
    expect(world.sim.violations).toEqual([]);
  });

  it("its new connection's first request (the WebSocket upgrade) is written before the lease's request is built", async () => {
    // Prepare: the order of the two, seen from this process (the DynamoDB client's first step; the upgrade request's 'finish')
    const client = new DynamoDBClient({});
    const { port } = await staleWarmLink('reconnect-order', client);
    const order: string[] = [];
    client.middlewareStack.add((next, context) => (args) => (order.push(context.commandName ?? '?'), next(args)), { step: 'initialize', name: 'orderProbe' });
    const onRequest = ({ request }: { request: ClientRequest }) => {
      if (request.path.startsWith('/ws')) request.once('finish', () => order.push('upgrade written'));
    };
    diagnostics.subscribe('http.client.request.start', onRequest as (message: unknown) => void);
    // Act
    const answer = await pinCall(port, { deviceId: 'reconnect-order', chatJid: world.contactJid, pinned: false });
    diagnostics.unsubscribe('http.client.request.start', onRequest as (message: unknown) => void);
    await closePort(port);
    client.destroy();
    // Assess: the lease is the pin's first DynamoDB request; the connection went first
    expect(answer.status).toBe(200);
    expect(order.slice(0, 2)).toEqual(['upgrade written', 'UpdateItemCommand']);
  });

  it("the patch is the first stanza after the login's IQs: Baileys' presence and unified session leave after it", async () => {
    // Prepare
    const { linked, port } = await staleWarmLink('reconnect-first-stanza');
    const from = world.sim.record.length;
    // Act
    const answer = await pinCall(port, { deviceId: 'reconnect-first-stanza', chatJid: world.contactJid, pinned: false });
    await closePort(port);
    // Assess: what the device sent on its new connection, in order
    const sent = world.sim.record.slice(from).filter((entry) => entry.deviceJid === linked.deviceJid && entry.direction === 'in');
    const names = sent.map((entry) => (entry.tag === 'iq' ? `iq ${entry.xmlns}` : entry.tag));
    expect(answer.status).toBe(200);
    expect(names.slice(0, 3).sort()).toEqual(['iq encrypt', 'iq passive', 'iq w:sync:app:state']);
    expect(names).toEqual(expect.arrayContaining(['presence', 'ib']));
  });

  it('its reconnections add no work to every promise the process makes afterwards (Baileys makes an AsyncLocalStorage per connection)', async () => {
    // Prepare: a promise carries one symbol per AsyncLocalStorage Node keeps propagating (the async_hooks implementation)
    const { linked, port } = await staleWarmLink('reconnect-storage');
    const propagated = () => Object.getOwnPropertySymbols(new Promise(() => undefined)).length;
    const before = propagated();
    // Act: 4 pins, each on a new connection
    for (const pinned of [false, true, false, true]) {
      expect((await pinCall(port, { deviceId: 'reconnect-storage', chatJid: world.contactJid, pinned })).status).toBe(200);
      await closeConnections(linked.deviceJid);
    }
    const after = propagated();
    await closePort(port);
    // Assess
    expect(after).toBe(before);
  });

  it('another instance changed the session meanwhile: the early connection ends without logging in, and the pin loads the session and logs in once', async () => {
    // Prepare
    const client = new DynamoDBClient({});
    const counter = attachRequestCounter(client);
    const { linked, port } = await staleWarmLink('reconnect-changed', client);
    const other = newPort(world);
    await pinCall(other, { deviceId: 'reconnect-changed', chatJid: world.contactJid, pinned: false });
    await closePort(other);
    const logins = world.sim.connections(linked.deviceJid).total;
    const handshakes = world.sim.connections().total;
    counter.reset();
    // Act
    const answer = await pinCall(port, { deviceId: 'reconnect-changed', chatJid: world.contactJid, pinned: true });
    const requests = counter.counts();
    await closePort(port);
    client.destroy();
    // Assess
    expect(answer.status).toBe(200);
    expect(world.sim.connections().total - handshakes).toBeLessThanOrEqual(2); // the early one (unless ended before it got there) and the login
    expect(world.sim.connections(linked.deviceJid).total).toBe(logins + 1);
    expect(requests.byCommand).toHaveProperty('QueryCommand', 1);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: true });
    expect(world.sim.violations).toEqual([]);
  });

  it('while another caller holds the lease, its early connection never logs in; once the lease is free, a cold login serves', async () => {
    // Prepare
    const { linked, port } = await staleWarmLink('reconnect-busy');
    const logins = world.sim.connections(linked.deviceJid).total;
    const handshakes = world.sim.connections().total;
    const held = await world.store.acquireLease('reconnect-busy', 'another caller', 30);
    // Act
    const refused = await pinCall(port, { deviceId: 'reconnect-busy', chatJid: world.contactJid, pinned: false }, 6_000);
    const loginsWhileHeld = world.sim.connections(linked.deviceJid).total;
    const handshakesWhileHeld = world.sim.connections().total - handshakes;
    await world.store.releaseLease(held);
    const served = await pinCall(port, { deviceId: 'reconnect-busy', chatJid: world.contactJid, pinned: false });
    await closePort(port);
    // Assess
    expect(refused).toMatchObject({ status: 409, error: 'DeviceBusyError' });
    expect(handshakesWhileHeld).toBeLessThanOrEqual(1); // the early connection, ended at the busy lease…
    expect(loginsWhileHeld).toBe(logins); // …never said which device it is (test/lib/whatsapp/wa-socket.test.ts holds the login)
    expect(served.status).toBe(200);
    expect(world.sim.connections(linked.deviceJid).total).toBe(logins + 1);
    expect(world.sim.chatState(world.account.phoneNumber, world.contactJid)).toMatchObject({ pinned: false });
    expect(world.sim.violations).toEqual([]);
  });
});
