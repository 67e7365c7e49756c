import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FromChild, ToChild } from '../../bench/bench-child.js';
import { bundle, childEnv, NODE, type Bundle } from '../../bench/bundles.js';
import { SIDE_FILES } from '../../infra/after-bundling.mjs';
import { buildKeyShareMessage } from '../../lib/simulator/phone-signal.js';
import { simulatorSnapshot, type SimServer } from '../../lib/simulator/simulator.js';
import { loadEvent } from '../support/events.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';

// The artefact NodejsFunction ships, end to end: functions/pin-chat.ts bundled with infra/bundling.ts's options and
// then infra/after-bundling.mjs (WAProto compiled type by type on first use, the bridge's WebAssembly in files),
// into a folder outside the repository (no node_modules to fall back on, as in /var/task). It runs in a child
// process per call (a cold start each time) against the simulator, DynamoDB Local and the loopback Secrets Manager.
// The entry is the bench's pin runner: the handler plus the one line that trusts the simulator's root key, which
// only code inside the bundle can set. Any protobuf type, module or file the bundle lacks fails a call here.
const CHAT = '6289685028129@s.whatsapp.net';
const CALL_TIMEOUT_MS = 60_000;
let dir: string;
let built: Bundle;
let world: HandlerWorld;
let devices = 0;

/** One cold start of the bundle: spawn, wait until imported, send one API Gateway event, read the answer, exit. */
async function coldCall(deviceId: string, pinned: boolean, chatJid = CHAT): Promise<{ status?: number; error?: string; stderr: string }> {
  const event = loadEvent('api-gateway-v2', 'pin');
  event.headers['x-device-id'] = deviceId;
  event.pathParameters = { chat_jid: chatJid };
  event.body = JSON.stringify({ pinned });
  const env = {
    BENCH_WA_ROOT_KEY: Buffer.from(world.sim.rootPublicKey).toString('base64'),
    SESSION_TABLE: world.table,
    API_CREDENTIALS_SECRET_ID: 'pin-api-credentials',
    WHATSAPP_WS_URL: world.sim.url,
    CHECK_CHAT_EXISTS: 'true',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: world.secrets.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: process.env.AWS_ENDPOINT_URL_DYNAMODB!,
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  const child = spawn(NODE, [built.file], { cwd: dir, env: childEnv(env), stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGKILL'), CALL_TIMEOUT_MS);
  try {
    const done = await new Promise<Extract<FromChild, { type: 'done' }>>((resolve, reject) => {
      child.on('message', (message: FromChild) => {
        if (message.type === 'ready') child.send({ type: 'pin', input: event } satisfies ToChild);
        if (message.type === 'done') resolve(message);
      });
      void exited.then(() => reject(new Error(`the bundle exited before answering; stderr: ${stderr.slice(-2_000)}`)));
    });
    child.send({ type: 'exit' } satisfies ToChild);
    await exited;
    return { status: done.status, error: done.error, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** A new device of the world's account, linked and stored, and what the simulator holds for it. */
async function newDevice() {
  const deviceId = `bundle-${++devices}`;
  const linked = await world.link(deviceId);
  const server = world.sim as unknown as SimServer;
  return {
    deviceId,
    linked,
    record: () => server.registry.device(linked.deviceJid)!,
    queued: () => simulatorSnapshot(world.sim).accounts.flatMap((account) => account.devices).find((device) => device.jid === linked.deviceJid)?.queued,
    retries: () => world.sim.record.filter((entry) => entry.deviceJid === linked.deviceJid && entry.direction === 'in' && entry.tag === 'receipt' && entry.type === 'retry').length,
  };
}

const phone = () => world.sim.phone(world.account.phoneNumber);
const pinnedOnPhone = (chatJid = CHAT) => world.sim.chatState(world.account.phoneNumber, chatJid)?.pinned ?? false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pin-bundle-'));
  built = await bundle('pin-runner', 'bench/pin-runner.ts', { dir });
  world = await startHandlerWorld();
}, 240_000);
afterAll(async () => {
  await world?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the shipped bundle, cold, against the simulator', () => {
  it('is what infra ships: index.mjs without WAProto or the WebAssembly inside, the side files beside it', () => {
    // The one built-in import left is the banner's (node:module, which defines require).
    expect(built.report).toMatchObject({ waprotoTypes: 672, waprotoMethods: expect.any(Number), inlineWasm: [], builtinImportsLeft: 1, imports: { 'waproto.mjs': expect.any(Number), 'rust-bridge.mjs': expect.any(Number) } });
    expect(built.largestInputs.map((input) => input.input)).not.toContain('whatsapp-rust-bridge');
    expect(readdirSync(join(dir, 'pin-runner')).sort()).toEqual(['index.mjs', 'index.mjs.map', ...SIDE_FILES].sort());
  });

  it('loads the bridge\'s fallback WebAssembly (no SIMD) from its packed file, and it computes what the SIMD one does', async () => {
    const probe = `const b = await import(${JSON.stringify(pathToFileURL(join(dir, 'pin-runner', 'rust-bridge.mjs')).href)});
      console.log(JSON.stringify([b.__wasmSimdActive, Buffer.from(b.md5(Buffer.from('pin'))).toString('hex'), Buffer.from(b.hkdf(Buffer.alloc(32, 1), 16, { info: 'x' })).toString('hex')]));`;
    const run = (nosimd: string) => JSON.parse(execFileSync(NODE, ['--input-type=module', '-e', probe], { env: childEnv({ WHATSAPP_RUST_BRIDGE_FORCE_NOSIMD: nosimd }), encoding: 'utf8' })) as [boolean, string, string];
    const [simd, fallback] = [run('0'), run('1')];
    expect(simd[0]).toBe(true);
    expect(fallback[0]).toBe(false);
    expect(fallback.slice(1)).toEqual(simd.slice(1));
  });

  it('pins, then unpins, each a cold start: 200, the phone shows it', async () => {
    const { deviceId } = await newDevice();
    const pin = await coldCall(deviceId, true);
    const pinnedAfterPin = pinnedOnPhone();
    const unpin = await coldCall(deviceId, false);
    expect(pin).toMatchObject({ status: 200 });
    expect(pinnedAfterPin).toBe(true);
    expect(unpin).toMatchObject({ status: 200 });
    expect(pinnedOnPhone()).toBe(false);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it('catches up when the phone changed app state first, and on a 409 between its sync and its patch', async () => {
    const { deviceId } = await newDevice();
    expect((await coldCall(deviceId, true)).status).toBe(200);
    await phone().setArchived('15550007101@s.whatsapp.net', true);
    await phone().setPinned('15550007102@s.whatsapp.net', true);
    const afterPhone = await coldCall(deviceId, false);
    world.sim.beforeNextPatch(world.account.phoneNumber, () => phone().setPinned('15550007102@s.whatsapp.net', false));
    const afterRace = await coldCall(deviceId, true);
    expect(afterPhone).toMatchObject({ status: 200 });
    expect(afterRace).toMatchObject({ status: 200 });
    expect(pinnedOnPhone()).toBe(true);
    expect(pinnedOnPhone('15550007102@s.whatsapp.net')).toBe(false);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it('a freshly linked device receives an app-state key share from the phone (its first Signal message) and stores it', async () => {
    const device = await newDevice();
    const { keyData, timestamp } = (world.sim as unknown as SimServer).account(world.account.phoneNumber).record.appStateKey;
    const keyId = randomBytes(6);
    // An older key than the one uploads use, so that the simulator keeps verifying our patches with the current one.
    (world.sim as unknown as SimServer).queuePhoneMessage(device.record(), buildKeyShareMessage([{ keyId, keyData, timestamp: timestamp - 60_000, fingerprint: { rawId: 1, currentIndex: 0, deviceIndexes: [0] } }]));
    const call = await coldCall(device.deviceId, true);
    const stored = await world.store.load(device.deviceId);
    expect(call).toMatchObject({ status: 200 });
    expect(Object.keys(stored.keys['app-state-sync-key'] ?? {})).toContain(keyId.toString('base64'));
    expect(device.queued()).toBe(0);
    expect(device.retries()).toBe(0);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it('processes an offline backlog of Signal messages from the phone: decrypted, receipted, none retried', async () => {
    const device = await newDevice();
    world.sim.queueOfflineMessages(device.linked.deviceJid, 25);
    const call = await coldCall(device.deviceId, false);
    expect(call).toMatchObject({ status: 200 });
    expect(device.queued()).toBe(0);
    expect(device.retries()).toBe(0);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);
});
