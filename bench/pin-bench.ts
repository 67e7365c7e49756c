/**
 * One pin, measured four ways against the simulator at 0 and 50 ms one-way latency per frame:
 * - ours-cold: a fresh Node 22 process per pin running the handler bundle (spawn → response);
 * - ours-warm: one process, the same handler instance for consecutive pins (after one warm-up pin);
 * - naive: a fresh process per pin running bench/naive-pin.ts bundled plainly (spawn → pin done);
 * - naive-warm (extra): the naive script called again and again in one process.
 * Each variant has its own account, linked device and proxies, so pins can be interleaved (variant
 * after variant, pin after pin) and share the machine's noise fairly without disturbing each other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { startLocalSecretsManager } from '../lib/local/local-secrets-manager.js';
import { DynamoDbSessionStore, ensureSessionTable } from '../lib/session/dynamodb-session-store.js';
import { startSimulator, type Simulator } from '../lib/simulator/index.js';
import { loadEvent, SAMPLE_BASIC_AUTH } from '../test/support/events.js';
import { seedSession } from '../test/support/simulated-world.js';
import type { FromChild, ToChild } from './bench-child.js';
import { BUILD_DIR, childEnv, NODE } from './bundles.js';
import { startDynamoDbProxy, type DynamoDbCounts, type DynamoDbProxy } from './dynamodb-proxy.js';
import type { NaivePinInput } from './naive-pin.js';
import { countRoundTrips, type RoundTrips } from './round-trips.js';
import { startWireProxy, type WireProxy } from './wire-proxy.js';

export const VARIANTS = ['ours-cold', 'ours-warm', 'naive', 'naive-warm'] as const;
export type Variant = (typeof VARIANTS)[number];

const CHAT_NUMBER = '6289685028129'; // the chat of events/api-gateway-v2/pin.json
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
}

/** A bench child (pin runner or naive script) over IPC. */
class BenchChild {
  static readonly live = new Set<BenchChild>();
  readonly spawnedAt = performance.now();
  readonly ready: Promise<Extract<FromChild, { type: 'ready' }>>;
  private readonly exited: Promise<unknown>;
  private stdout = '';
  private stderr = '';

  constructor(file: string, env: Record<string, string>) {
    const child: ChildProcess = spawn(NODE, [file], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    BenchChild.live.add(this);
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout = (this.stdout + chunk.toString()).slice(-200_000)));
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
  pins: number;
  /** 'proxy' (default): pipelined delay in bench/wire-proxy.ts; 'sim': the simulator's latency fault (serial per frame). */
  latencyModel: 'proxy' | 'sim';
  print: (line: string) => void;
}

interface VariantContext {
  variant: Variant;
  latencyMs: number;
  deviceJid: string;
  wire: WireProxy;
  dynamodb: DynamoDbProxy;
  env: Record<string, string>;
  file: string;
  folder?: string;
  chatJid: string;
  warm?: BenchChild;
  samples: PinSample[];
}

/** Runs every variant at every latency; returns the samples by latency and variant. */
export async function pinBench(options: PinBenchOptions): Promise<Array<{ latencyMs: number; variant: Variant; samples: PinSample[] }>> {
  const sim: Simulator = await startSimulator();
  const secrets = await startLocalSecretsManager();
  const client = new DynamoDBClient({ endpoint: options.dynamodbEndpoint });
  const contexts: VariantContext[] = [];
  const results: Array<{ latencyMs: number; variant: Variant; samples: PinSample[] }> = [];
  try {
    sim.registerNumber(CHAT_NUMBER);
    secrets.put(SECRET_ID, JSON.stringify({ basic_auth: SAMPLE_BASIC_AUTH }));
    const table = `bench-sessions-${Date.now()}`;
    await ensureSessionTable(client, table);
    const store = new DynamoDbSessionStore(client, table);
    const rootKey = Buffer.from(sim.rootPublicKey).toString('base64');
    for (const latencyMs of options.latencies) {
      sim.clearRecord();
      sim.setFaults(options.latencyModel === 'sim' && latencyMs > 0 ? [{ kind: 'latency', ms: latencyMs }] : []);
      contexts.length = 0;
      for (const variant of VARIANTS) {
        // Own account (own app state: no variant makes another's stored version stale), own device, own proxies.
        const account = sim.createAccount();
        const linked = await sim.linkDevice(account.phoneNumber);
        const wire = await startWireProxy(sim.url);
        wire.latencyMs = options.latencyModel === 'proxy' ? latencyMs : 0;
        const dynamodb = await startDynamoDbProxy(options.dynamodbEndpoint);
        const deviceId = `bench-${variant}-${latencyMs}`;
        const context: VariantContext = {
          variant, latencyMs, deviceJid: linked.deviceJid, wire, dynamodb, samples: [], chatJid: `${CHAT_NUMBER}@s.whatsapp.net`,
          file: variant.startsWith('ours') ? options.runnerFile : options.naiveFile,
          env: {
            BENCH_WA_ROOT_KEY: rootKey,
            BENCH_NAIVE: variant.startsWith('naive') ? '1' : '0',
            SESSION_TABLE: table,
            API_CREDENTIALS_SECRET_ID: SECRET_ID,
            DEFAULT_DEVICE_ID: deviceId,
            WHATSAPP_WS_URL: wire.url,
            CHECK_CHAT_EXISTS: 'true',
            AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
            AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
          },
        };
        contexts.push(context);
        if (variant.startsWith('ours')) await seedSession(store, deviceId, linked);
        else {
          // The naive script's folder, as useMultiFileAuthState would have written it after pairing.
          context.folder = join(BUILD_DIR, 'naive-auth', `${variant}-${latencyMs}`);
          await rm(context.folder, { recursive: true, force: true });
          await mkdir(context.folder, { recursive: true });
          const { state, saveCreds } = await useMultiFileAuthState(context.folder);
          Object.assign(state.creds, linked.creds);
          await saveCreds();
          await state.keys.set(linked.keys);
        }
      }
      options.print(`pins at ${latencyMs} ms one-way latency per frame (${options.latencyModel}): ${options.pins} per variant, interleaved`);
      for (const context of contexts.filter((c) => c.variant.endsWith('-warm'))) {
        context.warm = new BenchChild(context.file, context.env);
        await context.warm.ready;
        await pinOnce(sim, context, -1); // warm-up: the cold pin of that process, not measured
      }
      for (let pin = 0; pin < options.pins; pin++) {
        for (const context of contexts) context.samples.push(await pinOnce(sim, context, pin));
        if ((pin + 1) % 5 === 0) options.print(`  ${pin + 1}/${options.pins}`);
      }
      for (const context of contexts) {
        await context.warm?.exit();
        await context.wire.stop();
        await context.dynamodb.stop();
        results.push({ latencyMs, variant: context.variant, samples: context.samples });
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
    }
    await sim.stop();
    await secrets.stop();
    client.destroy();
  }
}

/** One pin (even: pin, odd: unpin) of a variant, with what the simulator and the proxies saw of it. */
async function pinOnce(sim: Simulator, context: VariantContext, index: number): Promise<PinSample> {
  const pinned = index % 2 === 0;
  const input = context.variant.startsWith('ours')
    ? loadEvent('api-gateway-v2', pinned ? 'pin' : 'unpin')
    : ({ folder: context.folder!, wsUrl: context.wire.url, chatJid: context.chatJid, pinned } satisfies NaivePinInput);
  context.dynamodb.reset();
  const recordFrom = sim.record.length;
  const child = context.warm ?? new BenchChild(context.file, context.env);
  const started = context.warm ? performance.now() : child.spawnedAt;
  let initMs: number | undefined;
  let done: Extract<FromChild, { type: 'done' }> | undefined;
  let error: string | undefined;
  try {
    if (!context.warm) initMs = (await child.ready).initMs;
    done = await child.pin(input);
  } catch (failure) {
    error = (failure as Error).message;
  }
  const answered = performance.now();
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
    maxRssKb: done?.maxRssKb ?? 0,
    cpuMs: (context.warm ? done?.cpuMs : done?.cpuMsSinceStart) ?? Number.NaN,
    roundTrips: countRoundTrips(context.wire.connections, deviceRecord, started, answered),
    newConnections: context.wire.connections.filter((wire) => wire.sent[0] !== undefined && wire.sent[0] >= started && wire.sent[0] <= answered).length,
    stanzasIn: stanzas.filter((entry) => entry.direction === 'in').length,
    stanzasOut: stanzas.filter((entry) => entry.direction === 'out').length,
    dynamodb: context.dynamodb.counts(),
    phases,
  };
}

export const killBenchChildren = () => BenchChild.killAll();
