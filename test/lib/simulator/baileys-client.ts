import { afterEach, beforeEach } from '@jest/globals';
import { request as httpRequest } from 'node:http';
/** Test helper: a plain Baileys socket (in-memory auth state, quick options) pointed at a simulator. */
import {
  DisconnectReason,
  initAuthCreds,
  makeWASocket,
  WA_CERT_DETAILS,
  type AuthenticationCreds,
  type ConnectionState,
  type SignalDataTypeMap,
  type SignalKeyStore,
  type SocketConfig,
  type WASocket,
} from '@whiskeysockets/baileys';
import { startSimulator, type LinkedDeviceKeys, type Simulator } from '../../../lib/simulator/index.js';

export { DisconnectReason };

const noop = () => undefined;

/** Baileys rc14 races every pre-key upload against a 30 s timer it never clears (Socket/socket.js uploadPreKeys), which keeps
 *  jest alive 30 s after a pairing test. Unref exactly that timer; nothing else is touched. */
const BAILEYS_UPLOAD_TIMEOUT_MS = 30_000;
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((handler: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = originalSetTimeout(handler, ms, ...args);
  if (ms === BAILEYS_UPLOAD_TIMEOUT_MS && /Pre-key upload timeout/.test(String(handler))) timer.unref();
  return timer;
}) as typeof setTimeout;
/** pino-compatible logger that drops everything. */
export const silentLogger = {
  level: 'silent', trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop,
  child() { return silentLogger },
} as never;

export interface MemoryAuth { creds: AuthenticationCreds; keys: SignalKeyStore; data: Map<string, unknown> }

export function memoryAuth(creds: AuthenticationCreds = initAuthCreds(), seed: LinkedDeviceKeys = {}): MemoryAuth {
  const data = new Map<string, unknown>();
  for (const [type, entries] of Object.entries(seed)) for (const [id, value] of Object.entries(entries ?? {})) data.set(`${type}/${id}`, value);
  const keys: SignalKeyStore = {
    get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
      const out: { [id: string]: SignalDataTypeMap[T] } = {};
      for (const id of ids) {
        const value = data.get(`${type}/${id}`);
        if (value !== undefined) out[id] = value as SignalDataTypeMap[T];
      }
      return out;
    },
    set: async sets => {
      for (const [type, entries] of Object.entries(sets)) {
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value === null || value === undefined) data.delete(`${type}/${id}`);
          else data.set(`${type}/${id}`, value);
        }
      }
    },
  };
  return { creds, keys, data };
}

export interface Client {
  sock: WASocket;
  auth: MemoryAuth;
  updates: Partial<ConnectionState>[];
  /** resolves with 'open' or with the close status code */
  settled: Promise<'open' | number>;
  closed: Promise<number>;
  isClosed: () => boolean;
}

export function connectClient(
  sim: Pick<Simulator, 'url' | 'rootPublicKey'>,
  auth: MemoryAuth,
  options: { queryTimeoutMs?: number; connectTimeoutMs?: number; socket?: Partial<SocketConfig> } = {},
): Client {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(sim.rootPublicKey);
  const sock = makeWASocket({
    waWebSocketUrl: sim.url,
    auth: { creds: auth.creds, keys: auth.keys },
    logger: silentLogger,
    printQRInTerminal: false,
    fireInitQueries: false,
    markOnlineOnConnect: false,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
    defaultQueryTimeoutMs: options.queryTimeoutMs ?? 5_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    keepAliveIntervalMs: 30_000,
    retryRequestDelayMs: 50,
    ...options.socket,
  });
  sock.ev.on('creds.update', update => Object.assign(auth.creds, update));
  const updates: Partial<ConnectionState>[] = [];
  let settle: (value: 'open' | number) => void = noop;
  let close: (code: number) => void = noop;
  let isClosed = false;
  const settled = new Promise<'open' | number>(resolve => { settle = resolve });
  const closed = new Promise<number>(resolve => { close = resolve });
  sock.ev.on('connection.update', update => {
    updates.push(update);
    if (update.connection === 'open') settle('open');
    if (update.connection === 'close') {
      const code = (update.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode ?? -1;
      isClosed = true;
      settle(code);
      close(code);
    }
  });
  return { sock, auth, updates, settled, closed, isClosed: () => isClosed };
}

/**
 * Fetch options that send Baileys' media downloads (always https://mmg.whatsapp.net + directPath) to the simulator's
 * media host instead: pass as `options` to makeWASocket (SocketConfig.options) or to extractSyncdPatches/decodePatches.
 * The dispatcher (the `dispatcher` fetch option of Node's built-in fetch, undici's Dispatcher interface) sends every
 * request to the media host over node:http, keeping path and query.
 */
export function mediaHostFetchOptions(sim: Pick<Simulator, 'mediaUrl'>): RequestInit {
  interface Handler {
    onConnect?(abort: (error?: Error) => void): void;
    onHeaders?(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean | void;
    onData?(chunk: Buffer): boolean | void;
    onComplete?(trailers: Buffer[] | null): void;
    onError?(error: Error): void;
  }
  const dispatcher = {
    dispatch(options: { path: string; method?: string; headers?: unknown }, handler: Handler): boolean {
      const headers: Record<string, string> = {};
      const raw = options.headers;
      if (Array.isArray(raw)) for (let i = 0; i + 1 < raw.length; i += 2) headers[String(raw[i])] = String(raw[i + 1]);
      else if (raw && typeof raw === 'object') for (const [name, value] of Object.entries(raw)) headers[name] = String(value);
      const request = httpRequest(new URL(options.path, sim.mediaUrl), { method: options.method ?? 'GET', headers }, response => {
        const rawHeaders = response.rawHeaders.map(value => Buffer.from(value));
        handler.onHeaders?.(response.statusCode ?? 500, rawHeaders, () => response.resume(), response.statusMessage ?? '');
        response.on('data', (chunk: Buffer) => { if (handler.onData?.(chunk) === false) response.pause() });
        response.on('end', () => handler.onComplete?.([]));
        response.on('error', error => handler.onError?.(error));
      });
      request.on('error', error => handler.onError?.(error));
      handler.onConnect?.(error => request.destroy(error));
      request.end();
      return true;
    },
    close: async () => undefined,
    destroy: async () => undefined,
    on() { return this },
    once() { return this },
    off() { return this },
    emit: () => false,
  };
  return { dispatcher } as unknown as RequestInit;
}

/** A linked device's auth state, ready for login. */
export async function linkedAuth(sim: Simulator, phoneNumber: string, options?: { preKeys?: number; shareAppStateKey?: boolean }) {
  const linked = await sim.linkDevice(phoneNumber, options);
  return { ...linked, auth: memoryAuth(linked.creds, linked.keys) };
}

/** Waits until the client's traffic has gone quiet and every IQ it sent was answered (so no Baileys query timer outlives the test). */
export async function quiesce(sim: Simulator, idleMs = 100, maxMs = 3_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  for (;;) {
    const answered = new Set(sim.record.filter(r => r.direction === 'out' && r.tag === 'iq').map(r => r.id));
    const pending = sim.record.some(r => r.direction === 'in' && r.tag === 'iq' && (r.type === 'get' || r.type === 'set') && !answered.has(r.id));
    const last = sim.record.at(-1)?.at ?? 0;
    if ((!pending && performance.now() - last >= idleMs) || performance.now() > deadline) return;
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

export async function endClient(client: Client, sim?: Simulator): Promise<void> {
  if (sim && !client.isClosed()) await quiesce(sim);
  client.sock.end(undefined);
  // Baileys' end() drops the 'close' listeners its waiting queries hold: their 'error' ones end them (as lib/whatsapp/wa-socket.ts does).
  client.sock.ws.emit('error', new Error('Connection Closed'));
  await Promise.race([client.closed, new Promise(resolve => setTimeout(resolve, 1_000).unref())]);
}

/** A fresh simulator for each test of the calling `describe`, and the clients a test opens, all ended after it. */
export function simulatorPerTest(): { sim: Simulator; clients: Client[] } {
  const fixture = { sim: undefined as unknown as Simulator, clients: [] as Client[] };
  beforeEach(async () => {
    fixture.sim = await startSimulator();
  });
  afterEach(async () => {
    await Promise.all(fixture.clients.splice(0).map((client) => endClient(client, fixture.sim)));
    await fixture.sim.stop();
  });
  return fixture;
}
