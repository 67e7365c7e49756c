import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FromChild, ToChild } from '../../bench/bench-child.js';
import { bundle, childEnv, NODE, type Bundle } from '../../bench/bundles.js';
import { SIDE_FILES } from '../../infra/after-bundling.mjs';
import { loadEvent } from '../support/events.js';
import { startHandlerWorld, type HandlerWorld } from '../support/simulated-world.js';

// The artefact NodejsFunction ships, end to end: functions/pin-chat.ts bundled with infra/bundling.ts's options and
// then infra/after-bundling.mjs (WAProto compiled type by type on first use, the bridge's WebAssembly in files),
// into a folder outside the repository (no node_modules to fall back on, as in /var/task). It runs in a child
// process per call (a cold start each time) against the simulator, DynamoDB Local and the loopback Secrets Manager.
// The entry is the bench's pin runner: the handler plus the one line that trusts the simulator's root key (the
// process's root, lib/whatsapp/process-root.ts). Any protobuf type, module or file the bundle lacks fails a call here.
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
    WHATSAPP_MEDIA_URL: world.sim.mediaUrl,
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

/** A new account (own app state and pin cap) with a device linked and stored; the simulator's view of it. */
async function newDevice() {
  const { phoneNumber } = world.sim.createAccount();
  const deviceId = `bundle-${++devices}`;
  const linked = await world.link(deviceId, phoneNumber);
  return {
    deviceId,
    phoneNumber,
    linked,
    phone: world.sim.phone(phoneNumber),
    pinned: (chatJid = CHAT) => world.sim.chatState(phoneNumber, chatJid)?.pinned ?? false,
    queue: () => world.sim.offlineQueue(linked.deviceJid),
  };
}

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
    expect(built.report).toMatchObject({ waprotoTypes: 672, waprotoMethods: expect.any(Number), inlineWasm: [], imports: { 'waproto.mjs': expect.any(Number), 'rust-bridge.mjs': expect.any(Number) } });
    // Kept: the banner's node:module (it defines require) and a namespace import the rewrite cannot prove safe; not node:http (undici).
    expect(built.report!.builtinImportsKept).toContain('node:module');
    expect(built.report!.builtinImportsKept.filter((specifier) => /^(node:)?(https?|fs|os|path|stream)$/.test(specifier))).toEqual([]);
    expect(built.report!.dynamicBuiltinImports).toBeGreaterThanOrEqual(3); // the AWS SDK's node:http among them
    expect(built.largestInputs.map((input) => input.input)).not.toContain('whatsapp-rust-bridge');
    // Most module wrappers compiled when they run, not preparsed at import (those an eval cannot run stay code)
    expect(built.report!.moduleBodies!.commonjs + built.report!.moduleBodies!.esm).toBeGreaterThan(300);
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

  it("compiles none of WhatsApp's side at import (Baileys, libsignal, ws), and all of it right after, before any request", () => {
    // Prepare: the scripts V8 compiles, seen from the process itself (module bodies are scripts named after their module)
    const probe = `import { Session } from 'node:inspector/promises';
      const session = new Session();
      session.connect();
      const urls = [];
      session.on('Debugger.scriptParsed', ({ params }) => urls.push(params.url));
      await session.post('Debugger.enable');
      process.send = () => true; // the runner announces itself over IPC
      await import(${JSON.stringify(pathToFileURL(built.file).href)});
      const atImport = [...urls];
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      console.log(JSON.stringify({ atImport, after: urls }));
      process.exit(0);`;
    const env = { SESSION_TABLE: world.table, API_CREDENTIALS_SECRET_ID: 'pin-api-credentials', AWS_ENDPOINT_URL_SECRETS_MANAGER: world.secrets.endpoint, POWERTOOLS_LOG_LEVEL: 'ERROR' };
    // Act
    const output = execFileSync(NODE, ['--input-type=module', '-e', probe], { cwd: dir, env: childEnv(env), encoding: 'utf8' });
    const { atImport, after } = JSON.parse(output.trim().split('\n').pop()!) as { atImport: string[]; after: string[] };
    // Assess
    const whatsappSide = (url: string) => /@whiskeysockets\/baileys\/|\/libsignal\/|\/ws\/lib\//.test(url);
    expect(atImport.filter(whatsappSide)).toEqual([]);
    expect(atImport.some((url) => /lib\/session\/dynamodb-session-store/.test(url) || url.endsWith('index.mjs'))).toBe(true);
    expect(after.filter((url) => /@whiskeysockets\/baileys\/.*Socket\/messages-recv/.test(url))).toHaveLength(1);
    expect(after.some((url) => /\/libsignal\//.test(url))).toBe(true);
  });

  it('pins, then unpins, each a cold start: 200, the phone shows it', async () => {
    const device = await newDevice();
    const pin = await coldCall(device.deviceId, true);
    const pinnedAfterPin = device.pinned();
    const unpin = await coldCall(device.deviceId, false);
    expect(pin).toMatchObject({ status: 200 });
    expect(pinnedAfterPin).toBe(true);
    expect(unpin).toMatchObject({ status: 200 });
    expect(device.pinned()).toBe(false);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it('catches up when the phone changed app state first, and on a 409 between its sync and its patch', async () => {
    const device = await newDevice();
    const other = '15550007102@s.whatsapp.net';
    expect((await coldCall(device.deviceId, true)).status).toBe(200);
    await device.phone.setArchived('15550007101@s.whatsapp.net', true);
    await device.phone.setPinned(other, true);
    const afterPhone = await coldCall(device.deviceId, false);
    world.sim.beforeNextPatch(device.phoneNumber, () => device.phone.setPinned(other, false));
    const afterRace = await coldCall(device.deviceId, true);
    expect(afterPhone).toMatchObject({ status: 200 });
    expect(afterRace).toMatchObject({ status: 200 });
    expect(device.pinned()).toBe(true);
    expect(device.pinned(other)).toBe(false);
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it('a device linked before the phone rotated its key: the key share waits in its backlog, the history is a snapshot on the media host', async () => {
    // Prepare: snapshot (ExternalBlobReference, under the older key), later patches under the new key, whose share
    // is the device's first Signal message from the phone (a pre-key message)
    const device = await newDevice();
    const pinned = ['15550007201@s.whatsapp.net', '15550007202@s.whatsapp.net', '15550007203@s.whatsapp.net'];
    const seeded = await world.sim.seedAppState(device.phoneNumber, { entries: 300, pinned: pinned.slice(0, 2), laterPinned: pinned.slice(2) });
    const mediaBefore = world.sim.mediaRequests.length;
    // Act
    const call = await coldCall(device.deviceId, false, pinned[1]);
    // Assess
    expect(call).toMatchObject({ status: 200 });
    expect(device.pinned(pinned[1])).toBe(false);
    expect(device.pinned(pinned[2])).toBe(true);
    expect(world.sim.mediaRequests.length).toBeGreaterThan(mediaBefore);
    expect(Object.keys((await world.store.load(device.deviceId)).keys['app-state-sync-key'] ?? {})).toEqual(expect.arrayContaining([seeded.snapshotKeyId, seeded.currentKeyId]));
    expect(device.queue()).toMatchObject({ queued: 0, retryReceipts: 0 });
    expect(world.sim.violations).toEqual([]);
  }, 120_000);

  it("processes an offline backlog (the phone's and contacts' Signal messages, a key share among them): decrypted, none retried", async () => {
    // Prepare
    const device = await newDevice();
    world.sim.queueOfflineMessages(device.linked.deviceJid, 5);
    await world.sim.queueContactMessages(device.linked.deviceJid, { senders: 4, messages: 12, appStateKeyShareAt: 6 });
    // Act
    const call = await coldCall(device.deviceId, true);
    // Assess: what the handler receipts within its drain budget it has decrypted (a failure would be a retry receipt)
    expect(call).toMatchObject({ status: 200 });
    expect(device.pinned()).toBe(true);
    const queue = device.queue();
    expect(queue).toMatchObject({ total: 18, retryReceipts: 0 });
    expect(queue.receiptTypes.peer_msg).toBeGreaterThanOrEqual(5); // the phone's own messages (Signal pre-key message first)
    expect(world.sim.violations).toEqual([]);
  }, 120_000);
});
