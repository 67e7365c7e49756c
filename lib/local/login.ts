/**
 * `npm run login`: links a WhatsApp account as a new device (QR or pairing code) and writes its session
 * through our DynamoDB session store; "ready" only once the phone's app-state key share is persisted.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DisconnectReason, initAuthCreds, makeWASocket, proto, type ConnectionState, type SignalDataSet, type SignalKeyStore, type WASocket } from '@whiskeysockets/baileys';
import qrcode from 'qrcode-terminal';
import { AppStateKeys } from '../app-state/app-state-keys.js';
import { AppStateCollection, PIN_COLLECTION } from '../app-state/collection.js';
import { CollectionSync } from '../app-state/collection-sync.js';
import { WhatsAppTimeoutError } from '../errors.js';
import { DynamoDbSessionStore } from '../session/dynamodb-session-store.js';
import type { KeyChanges, SessionStore } from '../session/session-store.js';
import { baileysLogger } from '../whatsapp/baileys-logger.js';
import { applyProcessRoot } from '../whatsapp/certificate-signature.js';
import { takeServerSync } from '../whatsapp/wa-socket.js';
import { trustSimulatorRoot } from './local-stack.js';
import { openSessionTable } from './session-table.js';

const USAGE = `usage: npm run login -- [--device ID] [--phone NUMBER] [--table NAME] [--simulator URL] [--force] [--timeout S]
  --device ID       the device id to store the session under (default DEFAULT_DEVICE_ID or "default")
  --phone NUMBER    link with an 8-character pairing code for this number (digits, country code first) instead of a QR
  --table NAME      the deployed sessions table (standard AWS credentials/region); default: the local store
                    (DynamoDB Local under the data dir: the one of a running \`npm start\`, else started here)
  --simulator URL   link to a simulated phone: the simulator control URL printed by \`npm start\`
                    (http://127.0.0.1:3000/simulator); the simulated phone scans the QR itself
  --force           replace a device that is already linked under that id
  --timeout S       seconds to wait for the phone's app-state key after linking (default 60)
  --verbose         show Baileys' warnings and errors`;

/** A simulated phone that scans by itself. */
export interface SimulatedPhone {
  wsUrl: string;
  mediaUrl?: string;
  rootPublicKey: Uint8Array;
  scan(qr: string): Promise<void>;
}

export interface LoginOptions {
  store: SessionStore;
  deviceId: string;
  /** Pairing code for this number instead of a QR. */
  phone?: string;
  /** WhatsApp's endpoint (WHATSAPP_WS_URL); ignored with `simulator`. */
  wsUrl?: string;
  /** WhatsApp's media host (WHATSAPP_MEDIA_URL), where app-state snapshots are downloaded from; ignored with `simulator`. */
  mediaUrl?: string;
  simulator?: SimulatedPhone;
  force?: boolean;
  keyTimeoutMs?: number;
  out?: (line: string) => void;
  /** Baileys' warnings and errors in the log (otherwise silent: a pairing logs expected errors, e.g. the 515). */
  verbose?: boolean;
}

export interface LoginResult {
  deviceId: string;
  jid: string;
  appStateKeyId: string;
  /** The app-state collection's version after the full sync, or undefined when it failed (the first pin does it). */
  appStateVersion?: number;
}

const RENEW_EVERY_MS = 20_000;
/** Budget of the full app-state sync after linking (a large account's snapshot and patches). */
const FULL_SYNC_MS = 60_000;
const LEASE_SECONDS = 60;
const MAX_RECONNECTS = 3;
const ignore = () => undefined;
const silentLogger = { level: 'silent', trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore, fatal: ignore, child: () => silentLogger };
const statusOf = (error: unknown) => (error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode;

/** Links a new device and stores its session; resolves once the app-state key is persisted. */
export async function linkDevice(options: LoginOptions): Promise<LoginResult> {
  const { store, deviceId } = options;
  const out = options.out ?? console.log;
  const keyTimeoutMs = options.keyTimeoutMs ?? 60_000;
  const existing = await store.load(deviceId);
  if (existing.state === 'linked' && !options.force) {
    throw new Error(`device "${deviceId}" is already linked (${existing.creds?.me?.id}); pass --force to replace it, or choose another --device`);
  }
  if (existing.state !== 'absent') await store.deleteDevice(deviceId);
  if (options.simulator) trustSimulatorRoot(options.simulator.rootPublicKey);
  let lease = await store.acquireLease(deviceId, `login-${randomUUID()}`, LEASE_SECONDS);

  // Every store write goes through one queue, in the order Baileys made the changes (they share the lease fence).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const done = queue.then(work);
    queue = done.catch(() => undefined);
    return done;
  };
  const renewal = setInterval(() => void serial(async () => (lease = await store.renewLease(lease, LEASE_SECONDS))).catch(() => undefined), RENEW_EVERY_MS);
  const creds = initAuthCreds();
  /** The app-state keys the phone shared (every one is kept: records may be under older ones). */
  const appStateKeys: Record<string, proto.Message.IAppStateSyncKeyData | null> = {};
  const keys: SignalKeyStore = {
    get: (type, ids) => store.getKeys(deviceId, type, ids),
    set: (data: SignalDataSet) => {
      Object.assign(appStateKeys, data['app-state-sync-key']);
      return serial(() => store.write(lease, { keys: data as KeyChanges }));
    },
  };

  let keyShared: () => void = () => undefined;
  const keyArrived = new Promise<void>((resolve) => (keyShared = resolve));
  const connect = () => {
    applyProcessRoot();
    const sock = makeWASocket({
      auth: { creds, keys },
      waWebSocketUrl: options.simulator?.wsUrl ?? options.wsUrl ?? 'wss://web.whatsapp.com/ws/chat',
      logger: options.verbose ? baileysLogger : (silentLogger as never),
      markOnlineOnConnect: false,
      syncFullHistory: false,
      shouldSyncHistoryMessage: () => false,
      fireInitQueries: false,
    });
    takeServerSync(sock, () => undefined);
    sock.ev.on('creds.update', (update) => {
      Object.assign(creds, update);
      // Written through once paired (before, nothing of it can be resumed; a pairing code sets `me` early).
      if (creds.account) void serial(() => store.write(lease, { creds })).catch(() => undefined);
      if (update.myAppStateKeyId) keyShared();
    });
    return sock;
  };

  let appStateVersion: number | undefined;
  const appStateChanges: KeyChanges = {};
  try {
    let qrCount = 0;
    let codeRequested = false;
    for (let attempt = 0; ; attempt++) {
      out(attempt === 0 ? 'connecting to WhatsApp…' : 'reconnecting with the saved credentials…');
      const sock = connect();
      const outcome = await new Promise<'open' | { status?: number; message: string }>((resolve) => {
        sock.ev.on('connection.update', (update: Partial<ConnectionState>) => {
          if (update.connection === 'open') resolve('open');
          if (update.connection === 'close') resolve({ status: statusOf(update.lastDisconnect?.error), message: String(update.lastDisconnect?.error?.message ?? '') });
          if (!update.qr) return;
          if (options.phone) {
            if (codeRequested) return;
            codeRequested = true;
            sock.requestPairingCode(options.phone.replace(/\D/g, '')).then(
              (code) => out(`enter code ${code.slice(0, 4)}-${code.slice(4)} on the phone: WhatsApp > Linked devices > Link a device > Link with phone number instead (valid a few minutes)`),
              (error: Error) => out(`pairing code request failed: ${error.message}`),
            );
            return;
          }
          qrCount++;
          out(`scan now (QR ${qrCount}): WhatsApp on the phone > Linked devices > Link a device. ` +
            `Each QR is valid ${qrCount === 1 ? '60' : '20'} s and is replaced by a new one; after the last one (about 2.5 minutes in all) linking stops and you run login again.`);
          if (options.simulator) {
            out('the simulated phone scans it…');
            options.simulator.scan(update.qr).catch((error: Error) => out(`simulated scan failed: ${error.message}`));
          } else qrcode.generate(update.qr, { small: true }, (text) => out(text));
        });
      });
      if (outcome === 'open') {
        out(`linked as ${creds.me?.id}; waiting for the phone to share the app-state key (up to ${Math.round(keyTimeoutMs / 1000)} s)…`);
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), keyTimeoutMs).unref());
        const waited = creds.myAppStateKeyId ? 'key' : await Promise.race([keyArrived.then(() => 'key' as const), timer]);
        if (waited === 'timeout') {
          sock.end(undefined);
          throw new Error(`the phone did not share the app-state key within ${Math.round(keyTimeoutMs / 1000)} s, so this device cannot pin yet. ` +
            'Keep WhatsApp open and online on the phone, then run login again with --force (and remove the stale entry under Linked devices on the phone).');
        }
        out('key received; syncing the account\'s chats (app state)…');
        appStateVersion = await fullSync(sock, deviceId, appStateKeys, options, appStateChanges).then(
          (version) => (out(`app state synced: version ${version}`), version),
          (error: Error) => (out(`app-state sync failed (${error.message}); the first pin will do it`), undefined),
        );
        sock.end(undefined);
        break;
      }
      sock.end(undefined);
      if (outcome.status === DisconnectReason.restartRequired) {
        out('paired; WhatsApp asks for a restart (515), as it always does after pairing');
        continue;
      }
      if (outcome.status === DisconnectReason.loggedOut) throw new Error('WhatsApp refused the device (401 logged out): run login again');
      if (/QR refs attempts ended/.test(outcome.message)) throw new Error('the QR codes expired before anyone scanned them: run login again and scan within the time shown');
      if (!creds.account || attempt >= MAX_RECONNECTS) throw new Error(`connection closed (${outcome.status ?? 'no status'}: ${outcome.message})`);
    }
    out('saving the session…');
    await serial(async () => undefined);
    if (appStateChanges['app-state-entry']) await store.putUnfenced(deviceId, 'app-state-entry', appStateChanges['app-state-entry'] as Record<string, string>);
    await store.commit(lease, { creds, keys: { 'app-state-meta': appStateChanges['app-state-meta'] } });
    clearInterval(renewal);
    const saved = await store.load(deviceId);
    const keyId = saved.creds?.myAppStateKeyId;
    if (saved.state !== 'linked' || !keyId || !saved.keys['app-state-sync-key']?.[keyId]) throw new Error('the session was not persisted completely: run login again');
    out(`ready: device "${deviceId}" is linked as ${saved.creds!.me!.id} and can pin (send X-Device-Id: ${deviceId}, or make it DEFAULT_DEVICE_ID)`);
    return { deviceId, jid: saved.creds!.me!.id, appStateKeyId: keyId, appStateVersion };
  } catch (error) {
    clearInterval(renewal);
    await serial(() => store.releaseLease(lease)).catch(() => undefined);
    throw error;
  }
}

/**
 * The full sync of the collection pins live in (snapshot + patches), right after linking: the first pin
 * then knows the account's pinned chats and needs no sync of its own. Fills `changes` with what to store.
 */
async function fullSync(sock: WASocket, deviceId: string, keys: Record<string, proto.Message.IAppStateSyncKeyData | null>, options: LoginOptions, changes: KeyChanges): Promise<number> {
  const transport = {
    query: async (node: Parameters<WASocket['query']>[0], by: number) => (await sock.query(node, Math.max(1, by - Date.now()))) ?? Promise.reject(new WhatsAppTimeoutError('WhatsApp did not answer the app-state sync')),
  };
  const collection = AppStateCollection.restore(undefined, async () => new Map());
  const sync = new CollectionSync(collection, transport, new AppStateKeys(deviceId, () => keys), { mediaUrl: options.simulator?.mediaUrl ?? options.mediaUrl });
  await sync.full(Date.now() + FULL_SYNC_MS);
  changes['app-state-entry'] = sync.collection.entries();
  sync.collection.written();
  changes['app-state-meta'] = { [PIN_COLLECTION]: sync.collection.changes()!.meta };
  return sync.collection.version;
}

/** The simulated phone behind a simulator control URL (`npm start` serves one at /simulator). */
export async function simulatedPhone(controlUrl: string): Promise<SimulatedPhone> {
  const base = controlUrl.replace(/\/+$/, '');
  const response = await fetch(`${base}/state`);
  if (!response.ok) throw new Error(`${base}/state answered ${response.status}`);
  const state = (await response.json()) as { url: string; mediaUrl?: string; rootPublicKey: string; phoneNumber: string };
  return {
    wsUrl: state.url,
    mediaUrl: state.mediaUrl,
    rootPublicKey: Buffer.from(state.rootPublicKey, 'base64'),
    async scan(qr) {
      const scan = await fetch(`${base}/phone/scan`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ qr, phoneNumber: state.phoneNumber }) });
      if (!scan.ok) throw new Error(((await scan.json()) as { message?: string }).message ?? `scan answered ${scan.status}`);
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      device: { type: 'string' }, phone: { type: 'string' }, table: { type: 'string' }, simulator: { type: 'string' },
      force: { type: 'boolean' }, verbose: { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return (console.log(USAGE), 0);
  const timeout = Number(values.timeout ?? 60);
  if (!(timeout > 0)) throw new Error('--timeout must be a number of seconds');
  if (values.simulator && values.phone) throw new Error('the simulated phone links by QR only: drop --phone');
  const stops: Array<() => Promise<void>> = [];
  const interrupted = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    process.exit(130);
  };
  process.once('SIGINT', () => void interrupted());
  process.once('SIGTERM', () => void interrupted());
  try {
    const store = await openSessionTable({ table: values.table, mode: values.simulator ? 'simulator' : 'real', say: console.log });
    stops.push(store.close);
    console.log(`store: ${store.where}`);
    await linkDevice({
      store: new DynamoDbSessionStore(store.client, store.table),
      deviceId: values.device ?? (process.env.DEFAULT_DEVICE_ID?.trim() || 'default'),
      phone: values.phone,
      wsUrl: process.env.WHATSAPP_WS_URL?.trim() || undefined,
      mediaUrl: process.env.WHATSAPP_MEDIA_URL?.trim() || undefined,
      simulator: values.simulator ? await simulatedPhone(values.simulator) : undefined,
      force: values.force,
      verbose: values.verbose,
      keyTimeoutMs: timeout * 1000,
    });
    return 0;
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
