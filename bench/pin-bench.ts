/**
 * One pin, measured in several situations against the simulator at each latency (0, 25 and 50 ms one-way per frame):
 * - ours-cold: a fresh Node 22 process per pin running the handler bundle (spawn → response), quiet empty account;
 * - ours-warm: one process, the same handler instance for consecutive pins (after one warm-up pin);
 * - naive: a fresh process per pin running bench/naive-pin.ts bundled plainly (spawn → pin done);
 * - naive-warm: the naive script called again and again in one process;
 * - idle-warm: a warm process whose WhatsApp connection died since its last pin (closed by the wire proxy before each
 *   pin, as after an idle spell): the handler reconnects in a warm process;
 * - busy: ours-cold on an account whose device has, before each pin, 300 queued messages from 50 senders and one
 *   app-state key share (the phone rotated its key) waiting; the backlog is read after each pin;
 * - size-0 / size-2k / size-10k: ours-cold on accounts with a regular_low history (snapshot on the media host under an
 *   older key, later patches under a rotated one, 3 pinned chats), seeded and linked once per run;
 * - first-pin-10k: the first pin of a device just linked to a 10,000-entry account (its full sync inside the pin).
 * Every ours device has done one unmeasured pin first (its full sync, as `npm run login` leaves it), except first-pin.
 * Each pin toggles its chat (pin ↔ unpin, read from the simulator) so that every measured pin sends a patch (a
 * repeated pin is answered without one), and pins one of the pinned chats on a 3-pin account (a 4th answers 409).
 * Each variant has its own account, linked device and proxies, so pins can be interleaved (variant after variant,
 * round after round) and share the machine's noise fairly without disturbing each other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { NODE_OPTIONS } from '../infra/bundling.js';
import { startLocalExtensionsApi, type LocalExtensionsApi } from '../lib/local/local-extensions-api.js';
import { startLocalSecretsManager, type LocalSecretsManager } from '../lib/local/local-secrets-manager.js';
import { DynamoDbSessionStore, ensureSessionTable } from '../lib/session/dynamodb-session-store.js';
import { startSimulator, type LinkedDevice, type OfflineQueueStats, type Simulator } from '../lib/simulator/index.js';
import { loadEvent, SAMPLE_BASIC_AUTH } from '../test/support/events.js';
import { seedSession } from '../test/support/simulated-world.js';
import { INVOCATION_MS, type FromChild, type ToChild } from './bench-child.js';
import { BUILD_DIR, childEnv, NODE } from './bundles.js';
import { startDynamoDbProxy, type DynamoDbCounts, type DynamoDbProxy } from './dynamodb-proxy.js';
import type { NaivePinInput } from './naive-pin.js';
import type { RunnerInput } from './pin-runner.js';
import { countRoundTrips, type RoundTrips } from './round-trips.js';
import { startWireProxy, type WireProxy } from './wire-proxy.js';

export const VARIANTS = ['ours-cold', 'ours-warm', 'naive', 'naive-warm', 'idle-warm', 'busy', 'size-0', 'size-2k', 'size-10k', 'first-pin-10k'] as const;
export type Variant = (typeof VARIANTS)[number];

/** How a variant runs. */
interface VariantSpec {
  runner: 'ours' | 'naive';
  /** One process for every pin (after an unmeasured warm-up pin); otherwise a fresh process per pin. */
  warm: boolean;
  /** An unmeasured cold pin before the measured ones: the device's full sync, done once (as after `npm run login`). */
  settle: boolean;
  /** Which pin count applies: every pin round, the heavy count, or the first-pin count. */
  count: 'pins' | 'heavy' | 'first';
  /** A regular_low history seeded once per run with this many entries; otherwise a fresh account per latency. */
  entries?: number;
  /** Before each measured pin: close the device's connection, queue a backlog, or link a new device. */
  before?: 'drop' | 'backlog' | 'new-device';
  /** Heavy variants pin every other round: 0 or 1 says which. */
  offset?: number;
}

export const VARIANT_SPECS: Record<Variant, VariantSpec> = {
  'ours-cold': { runner: 'ours', warm: false, settle: true, count: 'pins' },
  'ours-warm': { runner: 'ours', warm: true, settle: false, count: 'pins' },
  naive: { runner: 'naive', warm: false, settle: false, count: 'pins' },
  'naive-warm': { runner: 'naive', warm: true, settle: false, count: 'pins' },
  'idle-warm': { runner: 'ours', warm: true, settle: false, count: 'pins', before: 'drop' },
  busy: { runner: 'ours', warm: false, settle: true, count: 'heavy', before: 'backlog', offset: 0 },
  'size-0': { runner: 'ours', warm: false, settle: true, count: 'heavy', entries: 0, offset: 1 },
  'size-2k': { runner: 'ours', warm: false, settle: true, count: 'heavy', entries: 2_000, offset: 0 },
  'size-10k': { runner: 'ours', warm: false, settle: true, count: 'heavy', entries: 10_000, offset: 1 },
  'first-pin-10k': { runner: 'ours', warm: false, settle: false, count: 'first', entries: 10_000, before: 'new-device', offset: 0 },
};

/** The busy account's backlog before each pin: issue 14's "300 queued messages from 50 senders, plus one app-state key share". */
export const BACKLOG = { senders: 50, messages: 300 };

const CHAT_NUMBER = '6289685028129'; // the chat of events/api-gateway-v2/pin.json
/** A warm link idle longer reconnects (lib/whatsapp/device-connection.ts MAX_IDLE_MS). */
const WARM_IDLE_LIMIT_MS = 25_000;
const SECRET_ID = 'pin-api-credentials';
const PIN_TIMEOUT_MS = 60_000;

/** One measured pin. */
export interface PinSample {
  ok: boolean;
  error?: string;
  /** Cold and naive: process spawn → pin answered. Warm: handler call → answer. */
  wallMs: number;
  /** Process start → module evaluated (cold and naive only). */
  initMs?: number;
  /** Inside the child: the handler / naive pin alone. */
  handlerMs: number;
  /**
   * Ours: answer → the invocation over for Lambda (the after-response extension asked for the next event): the turn's
   * rest (commit, release) finished after the response, billed. Naive: 0.
   */
  afterResponseMs: number;
  maxRssKb: number;
  /** CPU time of the child: whole process (cold and naive) or the invocation (warm). */
  cpuMs: number;
  roundTrips?: RoundTrips;
  /** WebSocket connections opened during the pin (a warm pin that reuses its socket opens none). */
  newConnections: number;
  stanzasIn: number;
  stanzasOut: number;
  dynamodb: DynamoDbCounts;
  /** The handler's own phase timings (its "pin call" log line), when it logs them. */
  phases?: Record<string, number>;
  /** Secrets Manager GetSecretValue calls during the pin (cold: its first read; warm: only when its 5-minute cache expired). */
  secretsCalls: number;
  /** Bytes of log output: a cold process's whole output, a warm one's during the pin. */
  logBytes: number;
  /** Whether the pin asked to pin (true) or unpin (false). */
  pinned: boolean;
  /** Whether a patch landed (the account's regular_low version moved): every measured pin should send one. */
  patched: boolean;
  /** Busy: the device's offline queue after the pin (counters are cumulative since the account was made). */
  backlog?: OfflineQueueStats;
}

/** A bench child (pin runner or naive script) over IPC. */
class BenchChild {
  static readonly live = new Set<BenchChild>();
  readonly spawnedAt = performance.now();
  readonly ready: Promise<Extract<FromChild, { type: 'ready' }>>;
  private readonly exited: Promise<unknown>;
  private stdout = '';
  private stderr = '';
  /** Bytes the child wrote to stdout since it started (its log lines: what CloudWatch Logs would ingest). */
  outBytes = 0;

  constructor(file: string, env: Record<string, string>) {
    const child: ChildProcess = spawn(NODE, [file], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    BenchChild.live.add(this);
    child.stdout!.on('data', (chunk: Buffer) => {
      this.outBytes += chunk.length;
      this.stdout = (this.stdout + chunk.toString()).slice(-200_000);
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4_000)));
    this.exited = once(child, 'exit').finally(() => BenchChild.live.delete(this));
    this.ready = this.next('ready') as Promise<Extract<FromChild, { type: 'ready' }>>;
  }

  private readonly child: ChildProcess;

  private next(type: FromChild['type']): Promise<FromChild> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`bench child: no "${type}" within ${PIN_TIMEOUT_MS} ms; stderr: ${this.stderr.slice(-500)}`));
      }, PIN_TIMEOUT_MS);
      const onMessage = (message: FromChild) => {
        if (message.type !== type) return;
        done();
        resolve(message);
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`bench child exited (${code}) waiting for "${type}"; stderr: ${this.stderr.slice(-500)}`));
      };
      const done = () => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
    });
  }

  async pin(input: unknown): Promise<Extract<FromChild, { type: 'done' }>> {
    this.stdout = '';
    const done = this.next('done') as Promise<Extract<FromChild, { type: 'done' }>>;
    this.child.send({ type: 'pin', input } satisfies ToChild);
    return done;
  }

  /** The timings of the last "pin call" log line the handler wrote, if any. */
  lastPhases(): Record<string, number> | undefined {
    for (const line of this.stdout.split('\n').reverse()) {
      if (!line.includes('"pin call"')) continue;
      try {
        return (JSON.parse(line) as { timings?: Record<string, number> }).timings;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  async exit(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) this.child.send({ type: 'exit' } satisfies ToChild);
    const timer = setTimeout(() => this.kill(), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  static killAll(): void {
    for (const child of BenchChild.live) child.kill();
  }
}

export interface PinBenchOptions {
  dynamodbEndpoint: string;
  runnerFile: string;
  naiveFile: string;
  latencies: number[];
  /** Measured pins per latency of the light variants (cold, warm, naive, idle-warm). */
  pins: number;
  /** Of the heavy ones (busy, account sizes); default min(pins, 10). */
  heavyPins?: number;
  /** First pins after linking on the 10,000-entry account, per latency; default 3. */
  firstPins?: number;
  /** Only these variants (default: all). */
  variants?: readonly Variant[];
  /** 'proxy' (default): pipelined delay in bench/wire-proxy.ts; 'sim': the simulator's latency fault (serial per frame). */
  latencyModel: 'proxy' | 'sim';
  print: (line: string) => void;
}

/** What a variant's account is, for the report. */
export interface AccountInfo {
  /** regular_low index entries the server holds (snapshot + later patches), 0 for a fresh account. */
  entries: number;
  /** The entries asked of seedAppState (the snapshot holds at least the 2 pinned chats). */
  seededEntries?: number;
  seedMs?: number;
  appStateVersion: number;
  pinnedChats: number;
}

export interface VariantResult {
  latencyMs: number;
  variant: Variant;
  samples: PinSample[];
  account: AccountInfo;
  /** The unmeasured settling pin (ms wall, ok), if the variant had one at this latency. */
  settle?: { ok: boolean; wallMs: number; error?: string };
}

/** An account with a regular_low history, made once per run. */
interface SeededAccount {
  phoneNumber: string;
  chatJid: string;
  seededEntries: number;
  seedMs: number;
  /** size-*: its one device (linked after seeding, session stored once). */
  device?: { deviceId: string; linked: LinkedDevice; settled: boolean };
}

interface VariantContext {
  variant: Variant;
  spec: VariantSpec;
  latencyMs: number;
  phoneNumber: string;
  deviceJid: string;
  deviceId: string;
  wire: WireProxy;
  dynamodb: DynamoDbProxy;
  /** Ours: Lambda's runtime API (its extension part) for the child, which registers to finish turns after their response. */
  lambda?: LocalExtensionsApi;
  env: Record<string, string>;
  file: string;
  folder?: string;
  chatJid: string;
  /** Measured pins at this latency. */
  count: number;
  warm?: BenchChild;
  samples: PinSample[];
  settle?: VariantResult['settle'];
}

/** Whether a variant with `count` pins, spread evenly over `rounds` rounds, pins in round `round`. */
export function pinsInRound(round: number, count: number, rounds: number, offset = 0): boolean {
  if (count >= rounds) return true;
  const k = (round + offset) % rounds;
  return Math.floor(((k + 1) * count) / rounds) > Math.floor((k * count) / rounds);
}

/** An API Gateway v2 event that pins or unpins `chatJid` (the sample event, re-aimed). */
function pinEvent(chatJid: string, pinned: boolean) {
  const event = loadEvent('api-gateway-v2', 'pin');
  const path = `/chat/${encodeURIComponent(chatJid)}/pin`;
  const body = JSON.stringify({ pinned });
  return {
    ...event,
    rawPath: path,
    headers: { ...event.headers, 'content-length': String(body.length) },
    requestContext: { ...event.requestContext, http: { ...event.requestContext.http, path } },
    pathParameters: { chat_jid: chatJid },
    body,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs every variant at every latency; returns the samples by latency and variant. */
export async function pinBench(options: PinBenchOptions): Promise<VariantResult[]> {
  const sim: Simulator = await startSimulator();
  const secrets = await startLocalSecretsManager();
  const client = new DynamoDBClient({ endpoint: options.dynamodbEndpoint });
  const contexts: VariantContext[] = [];
  const results: VariantResult[] = [];
  const variants = VARIANTS.filter((variant) => !options.variants || options.variants.includes(variant));
  const heavyPins = options.heavyPins ?? Math.min(options.pins, 10);
  const firstPins = options.firstPins ?? 3;
  const counts = { pins: options.pins, heavy: heavyPins, first: firstPins };
  try {
    sim.registerNumber(CHAT_NUMBER);
    secrets.put(SECRET_ID, JSON.stringify({ basic_auth: SAMPLE_BASIC_AUTH }));
    const table = `bench-sessions-${Date.now()}`;
    await ensureSessionTable(client, table);
    const store = new DynamoDbSessionStore(client, table);
    const rootKey = Buffer.from(sim.rootPublicKey).toString('base64');

    // Accounts with history: seeded once per run (2 chats pinned in the snapshot, 1 pinned later by the phone).
    const seeded = new Map<Variant, SeededAccount>();
    for (const [index, variant] of variants.entries()) {
      const { entries } = VARIANT_SPECS[variant];
      if (entries === undefined) continue;
      const account = sim.createAccount();
      const chat = (k: number) => `155570${String(index).padStart(2, '0')}${String(k).padStart(3, '0')}@s.whatsapp.net`;
      const seededEntries = Math.max(entries, 2);
      const info = await sim.seedAppState(account.phoneNumber, { entries: seededEntries, pinned: [chat(1), chat(2)], laterPinned: [chat(3)] });
      const record: SeededAccount = { phoneNumber: account.phoneNumber, chatJid: chat(3), seededEntries, seedMs: info.elapsedMs };
      if (VARIANT_SPECS[variant].before !== 'new-device') {
        const linked = await sim.linkDevice(account.phoneNumber);
        const deviceId = `bench-${variant}`;
        await seedSession(store, deviceId, linked);
        record.device = { deviceId, linked, settled: false };
      }
      seeded.set(variant, record);
      options.print(`seeded ${variant}: ${sim.appStateInfo(account.phoneNumber).entries} regular_low entries, v${info.version}, in ${info.elapsedMs.toFixed(0)} ms`);
    }

    for (const latencyMs of options.latencies) {
      sim.clearRecord();
      sim.setFaults(options.latencyModel === 'sim' && latencyMs > 0 ? [{ kind: 'latency', ms: latencyMs }] : []);
      contexts.length = 0;
      for (const variant of variants) {
        const spec = VARIANT_SPECS[variant];
        const history = seeded.get(variant);
        // Own account (own app state: no variant makes another's stored version stale), own device, own proxies.
        let phoneNumber: string;
        let linked: LinkedDevice | undefined;
        let deviceId: string;
        if (history) {
          phoneNumber = history.phoneNumber;
          linked = history.device?.linked;
          deviceId = history.device?.deviceId ?? `bench-${variant}-${latencyMs}-0`;
        } else {
          phoneNumber = sim.createAccount().phoneNumber;
          linked = await sim.linkDevice(phoneNumber);
          deviceId = `bench-${variant}-${latencyMs}`;
        }
        const wire = await startWireProxy(sim.url);
        wire.latencyMs = options.latencyModel === 'proxy' ? latencyMs : 0;
        const dynamodb = await startDynamoDbProxy(options.dynamodbEndpoint);
        const lambda = spec.runner === 'ours' ? await startLocalExtensionsApi() : undefined;
        const context: VariantContext = {
          variant, spec, latencyMs, phoneNumber, deviceId, deviceJid: linked?.deviceJid ?? '', wire, dynamodb, lambda, samples: [],
          chatJid: history?.chatJid ?? `${CHAT_NUMBER}@s.whatsapp.net`,
          count: counts[spec.count],
          file: spec.runner === 'ours' ? options.runnerFile : options.naiveFile,
          env: {
            BENCH_WA_ROOT_KEY: rootKey,
            BENCH_NAIVE: spec.runner === 'naive' ? '1' : '0',
            SESSION_TABLE: table,
            API_CREDENTIALS_SECRET_ID: SECRET_ID,
            DEFAULT_DEVICE_ID: deviceId,
            WHATSAPP_WS_URL: wire.url,
            // The media host (snapshots) is plain HTTP on loopback, reached directly (the wire proxy carries the WebSocket only).
            WHATSAPP_MEDIA_URL: sim.mediaUrl,
            CHECK_CHAT_EXISTS: 'true',
            AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
            AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
            ...(lambda && { AWS_LAMBDA_RUNTIME_API: lambda.address, NODE_OPTIONS }),
          },
        };
        contexts.push(context);
        if (!linked) continue; // first-pin: a device is linked before each pin
        if (spec.runner === 'naive') {
          // The naive script's folder, as useMultiFileAuthState would have written it after pairing.
          context.folder = join(BUILD_DIR, 'naive-auth', `${variant}-${latencyMs}`);
          await rm(context.folder, { recursive: true, force: true });
          await mkdir(context.folder, { recursive: true });
          const { state, saveCreds } = await useMultiFileAuthState(context.folder);
          Object.assign(state.creds, linked.creds);
          await saveCreds();
          await state.keys.set(linked.keys);
        } else if (!history) await seedSession(store, deviceId, linked);
      }
      options.print(
        `pins at ${latencyMs} ms one-way latency per frame (${options.latencyModel}): ${options.pins} per light variant, ${heavyPins} per heavy one (busy, sizes), ${firstPins} first pins; interleaved`,
      );
      // Settling pins first (a 10,000-entry full sync takes seconds), then the warm-ups, so that no warm link idles past 25 s.
      for (const context of contexts) {
        const history = seeded.get(context.variant);
        if (context.spec.warm || !context.spec.settle || (history?.device?.settled ?? false)) continue;
        const settle = await pinOnce(sim, secrets, context, false);
        context.settle = { ok: settle.ok, wallMs: Math.round(settle.wallMs), ...(settle.error && { error: settle.error.slice(0, 300) }) };
        if (!settle.ok) options.print(`  ${context.variant}: settling pin failed: ${settle.error?.slice(0, 300)}`);
        if (history?.device) history.device.settled = settle.ok;
      }
      for (const context of contexts.filter((c) => c.spec.warm)) {
        context.warm = new BenchChild(context.file, context.env);
        await context.warm.ready;
        await pinOnce(sim, secrets, context, false); // warm-up: the cold pin of that process, not measured
      }
      // Interleaved rounds; the first pins (compared with nothing, seconds each) come after, so that rounds stay short.
      const interleaved = contexts.filter((context) => context.spec.count !== 'first');
      const rounds = Math.max(0, ...interleaved.map((context) => context.count));
      const started = performance.now();
      let longest = 0;
      for (let round = 0; round < rounds; round++) {
        const roundStarted = performance.now();
        for (const context of interleaved) {
          if (!pinsInRound(round, context.count, rounds, context.spec.offset)) continue;
          await prepare(sim, store, context, seeded.get(context.variant));
          context.samples.push(await pinOnce(sim, secrets, context, true));
        }
        longest = Math.max(longest, performance.now() - roundStarted);
        if ((round + 1) % 5 === 0 || round + 1 === rounds) options.print(`  round ${round + 1}/${rounds} (${((performance.now() - started) / 1000).toFixed(0)} s; longest round ${(longest / 1000).toFixed(1)} s)`);
      }
      if (longest > WARM_IDLE_LIMIT_MS) options.print(`  a round took ${(longest / 1000).toFixed(1)} s: warm links idled past ${WARM_IDLE_LIMIT_MS / 1000} s between their pins (see newConnections)`);
      for (const context of contexts.filter((c) => c.spec.count === 'first')) {
        for (let pin = 0; pin < context.count; pin++) {
          await prepare(sim, store, context, seeded.get(context.variant));
          context.samples.push(await pinOnce(sim, secrets, context, true));
        }
        options.print(`  ${context.variant}: ${context.count} pins`);
      }
      for (const context of contexts) {
        await context.warm?.exit();
        await context.wire.stop();
        await context.dynamodb.stop();
        await context.lambda?.stop();
        const history = seeded.get(context.variant);
        const info = sim.appStateInfo(context.phoneNumber);
        results.push({
          latencyMs,
          variant: context.variant,
          samples: context.samples,
          account: {
            entries: history ? info.entries : 0,
            ...(history && { seededEntries: history.seededEntries, seedMs: Math.round(history.seedMs) }),
            appStateVersion: info.version,
            pinnedChats: sim.pinnedChats(context.phoneNumber).length,
          },
          ...(context.settle && { settle: context.settle }),
        });
      }
      const violations = sim.violations;
      if (violations.length > 0) options.print(`  simulator protocol violations: ${violations.length} (first: ${violations[0]!.kind}: ${violations[0]!.detail})`);
    }
    return results;
  } finally {
    BenchChild.killAll();
    for (const context of contexts) {
      await context.wire.stop().catch(() => undefined);
      await context.dynamodb.stop().catch(() => undefined);
      await context.lambda?.stop().catch(() => undefined);
    }
    await sim.stop();
    await secrets.stop();
    client.destroy();
  }
}

/** What a variant does before a measured pin: close the connection (idle-warm), queue a backlog (busy), link a new device (first pin). */
async function prepare(sim: Simulator, store: DynamoDbSessionStore, context: VariantContext, history: SeededAccount | undefined): Promise<void> {
  switch (context.spec.before) {
    case 'drop': {
      context.wire.drop();
      // Until the simulator has seen the close, and the client had time to notice it too.
      for (let waited = 0; sim.connections(context.deviceJid).live > 0 && waited < 2_000; waited += 10) await sleep(10);
      await sleep(50);
      return;
    }
    case 'backlog': {
      await sim.phone(context.phoneNumber).rotateAppStateKey();
      await sim.queueContactMessages(context.deviceJid, BACKLOG);
      return;
    }
    case 'new-device': {
      const linked = await sim.linkDevice(history!.phoneNumber);
      context.deviceId = `bench-${context.variant}-${context.latencyMs}-${context.samples.length}`;
      context.deviceJid = linked.deviceJid;
      context.env.DEFAULT_DEVICE_ID = context.deviceId;
      context.wire.reset(); // round trips pair this device's connections only
      await seedSession(store, context.deviceId, linked);
      return;
    }
    default:
  }
}

/** One pin of a variant (toggling its chat, so that a patch is sent), with what the simulator and the proxies saw of it. */
async function pinOnce(sim: Simulator, secrets: LocalSecretsManager, context: VariantContext, measured: boolean): Promise<PinSample> {
  const pinned = !(sim.chatState(context.phoneNumber, context.chatJid)?.pinned ?? false);
  const requestId = randomUUID();
  const input =
    context.spec.runner === 'ours'
      ? ({ event: pinEvent(context.chatJid, pinned), requestId } satisfies RunnerInput)
      : ({ folder: context.folder!, wsUrl: context.wire.url, chatJid: context.chatJid, pinned } satisfies NaivePinInput);
  context.dynamodb.reset();
  const recordFrom = sim.record.length;
  const secretsBefore = secrets.calls();
  const versionBefore = sim.appStateVersion(context.phoneNumber, 'regular_low');
  const child = context.warm ?? new BenchChild(context.file, context.env);
  const outBefore = context.warm ? child.outBytes : 0;
  const started = context.warm ? performance.now() : child.spawnedAt;
  let initMs: number | undefined;
  let done: Extract<FromChild, { type: 'done' }> | undefined;
  let error: string | undefined;
  let over: Promise<number> | undefined;
  try {
    if (!context.warm) initMs = (await child.ready).initMs;
    // As Lambda does: the invocation starts for its extensions as for its handler.
    over = context.lambda?.invoke(requestId, Date.now() + INVOCATION_MS);
    done = await child.pin(input);
  } catch (failure) {
    error = (failure as Error).message;
  }
  const answered = performance.now();
  // The environment is frozen (the next pin waits) only once the turn's rest finished after the response.
  let timer: NodeJS.Timeout | undefined;
  const overAt = over && done ? await Promise.race([over, new Promise<number>((resolve) => (timer = setTimeout(() => resolve(Number.NaN), INVOCATION_MS)))]) : answered;
  clearTimeout(timer);
  const phases = child.lastPhases();
  if (!context.warm) await child.exit();
  const stanzas = sim.record.slice(recordFrom).filter((entry) => entry.deviceJid === context.deviceJid && entry.at <= answered);
  const deviceRecord = sim.record.filter((entry) => entry.deviceJid === context.deviceJid);
  return {
    ok: done?.ok ?? false,
    error: error ?? done?.error,
    wallMs: answered - started,
    initMs,
    handlerMs: done?.ms ?? Number.NaN,
    afterResponseMs: Math.max(0, overAt - answered),
    maxRssKb: done?.maxRssKb ?? 0,
    cpuMs: (context.warm ? done?.cpuMs : done?.cpuMsSinceStart) ?? Number.NaN,
    roundTrips: countRoundTrips(context.wire.connections, deviceRecord, started, answered),
    newConnections: context.wire.connections.filter((wire) => wire.sent[0] !== undefined && wire.sent[0] >= started && wire.sent[0] <= answered).length,
    stanzasIn: stanzas.filter((entry) => entry.direction === 'in').length,
    stanzasOut: stanzas.filter((entry) => entry.direction === 'out').length,
    dynamodb: context.dynamodb.counts(),
    phases,
    secretsCalls: secrets.calls() - secretsBefore,
    logBytes: child.outBytes - outBefore,
    pinned,
    patched: sim.appStateVersion(context.phoneNumber, 'regular_low') > versionBefore,
    ...(measured && context.spec.before === 'backlog' && { backlog: sim.offlineQueue(context.deviceJid) }),
  };
}

export const killBenchChildren = () => BenchChild.killAll();
