/**
 * One linked device, connected: its session (auth state over the store), its WhatsApp connection and its
 * app-state collection. It serves pin requests (one or several at once) and commits what changed.
 */
import { toNumber } from '@whiskeysockets/baileys';
import { AppStateKeys } from '../app-state/app-state-keys.js';
import { AppStateCollection, PIN_COLLECTION } from '../app-state/collection.js';
import { CollectionSync } from '../app-state/collection-sync.js';
import { PIN_INDEX } from '../app-state/pin-projection.js';
import type { MutationInput } from '../app-state/sync-codec.js';
import type { BeforeUpload, DeviceLink, OpenLink, Phase, Reuse } from '../device-turns/device-link.js';
import type { BatchRecord } from '../device-turns/device-queue.js';
import type { RequestOutcome } from '../device-turns/turn-outcome.js';
import { AppStateKeyMissingError, ChatNotFoundError, LeaseLostError, NotLoggedInError, WhatsAppRejectedError } from '../errors.js';
import { failureFields } from '../http/middlewares.js';
import { logger } from '../observability.js';
import type { PinPlanner } from '../pin/pin-policy.js';
import type { PinRequest } from '../pin/whatsapp-port.js';
import { openSessionAuthState, type SessionAuthState } from '../session/session-auth-state.js';
import { QueueGrewError, type Lease, type SessionSnapshot, type SessionStore } from '../session/session-store.js';
import { assertChatExists } from './chat-existence.js';
import { WaSocket } from './wa-socket.js';

export interface DeviceConnectionOptions {
  /** WhatsApp's endpoints (the simulator); undefined → WhatsApp's. */
  wsUrl?: string;
  mediaUrl?: string;
  checkChatExists: boolean;
}

/** Plans (and uploads) at most this often per batch before giving up: the account's app state kept moving. */
const MAX_ATTEMPTS = 4;
const PIN_API_VERSION = 5;
/** At most this long is spent on a queued offline backlog after the pin; the rest waits for the next call. */
const DRAIN_BUDGET_MS = 2_000;
/**
 * A connection started ahead of the lease holds the lease's request back until its own first request left, at most
 * this long: it is the pin's critical path, and the DynamoDB client's work (building and signing the request) would
 * otherwise run first and keep the TCP (TLS) connect's completion waiting, 2–4 ms measured.
 */
const FIRST_REQUEST_WAIT_MS = 5;
/** A warm connection idle for longer is not trusted (a frozen Lambda sends no keep-alives). */
const MAX_IDLE_MS = 25_000;
/** A chat WhatsApp confirmed exists is not asked again for this long (a number can leave WhatsApp, a group its members). */
const KNOWN_CHAT_MS = 7 * 24 * 3600 * 1000;
/** Most known chats kept per device (the most recently confirmed). */
const MAX_KNOWN_CHATS = 500;

/** Opens devices over Baileys and the session store (lib/device-turns hands them from turn to turn). */
export function deviceConnections(store: SessionStore, options: DeviceConnectionOptions): OpenLink {
  return async (lease, first, openBy, phase) => {
    const snapshot = await phase('load', () => store.load(lease.deviceId));
    return DeviceConnection.open(store, lease, snapshot, first, { ...options, openBy });
  };
}

export class DeviceConnection implements DeviceLink {
  /** Chats WhatsApp confirmed exist, with when it did (stored with the session). */
  private readonly knownChats: Map<string, number>;
  private knownChatsChanged = false;
  /** Session version our last commit wrote: equal on the next lease means nobody else changed the session. */
  sessionVersion?: string;
  idleSince = Date.now();
  /** Whether its offline backlog was processed completely (otherwise it is not kept warm). */
  drained?: boolean;
  private opened?: Promise<void>;
  private connectedOk = false;
  /** A full sync ran since the last decision: the pinned chats are the server's current ones. */
  private synced = false;
  /** What the last full sync in ready() threw, until a decision meets it. */
  private syncFailure?: { error: unknown };
  /** The existence check of the first request's chat, started as soon as WhatsApp accepted the login. */
  private firstCheck?: { chatJid: string; done: Promise<void> };
  /** The session still holds the collection in Baileys' single-value layout: the next commit deletes it. */
  private legacyAppState: boolean;
  /** The next connection, started before the lease was taken; its login waits for reusable()'s verdict. */
  private ahead?: { socket: WaSocket; verdict: (login: boolean) => void };
  readonly sync: CollectionSync;

  private constructor(
    readonly deviceId: string,
    private readonly store: SessionStore,
    readonly auth: SessionAuthState,
    private socket: WaSocket,
    collection: AppStateCollection,
    keys: AppStateKeys,
    private readonly options: DeviceConnectionOptions,
    legacy: boolean,
    known: Array<[string, number]>,
  ) {
    this.sync = new CollectionSync(collection, { query: (node, by) => this.socket.query(node, by) }, keys, { mediaUrl: options.mediaUrl });
    this.legacyAppState = legacy;
    this.knownChats = new Map(known.filter(([, at]) => Date.now() - at < KNOWN_CHAT_MS));
  }

  /**
   * Cold start: the session is checked (linked, app-state key present), the socket starts connecting, and
   * while it does the entry the first pin touches and Baileys' current pre-key are read; the first chat's
   * existence check leaves as soon as WhatsApp accepts the login.
   */
  static open(store: SessionStore, lease: Lease, snapshot: SessionSnapshot, first: PinRequest, options: DeviceConnectionOptions & { openBy: number }): DeviceConnection {
    const { deviceId } = lease;
    if (snapshot.state !== 'linked' || !snapshot.creds?.me) {
      throw new NotLoggedInError(deviceId, snapshot.state === 'linked' ? 'linking' : (snapshot.state as 'absent' | 'linking' | 'logged-out'));
    }
    const auth = openSessionAuthState(store, lease, snapshot);
    const keys = new AppStateKeys(deviceId, () => auth.all('app-state-sync-key'));
    keys.upload(); // no key at all: AppStateKeyMissingError before any traffic
    const collection = AppStateCollection.restore(snapshot.keys['app-state-meta']?.[PIN_COLLECTION] ?? undefined, async (generation, macs) => {
      const found = await auth.get('app-state-entry', macs.map((mac) => `${generation}.${mac}`));
      return new Map(macs.flatMap((mac) => (found[`${generation}.${mac}`] ? [[mac, Buffer.from(found[`${generation}.${mac}`]!, 'base64')]] : [])));
    });
    const socket = new WaSocket(auth, { deviceId, wsUrl: options.wsUrl, openBy: options.openBy });
    const connection = new DeviceConnection(deviceId, store, auth, socket, collection, keys, options, snapshot.keys['app-state-sync-version']?.[PIN_COLLECTION] != null, snapshot.keys['known-chats']?.v1 ?? []);
    // Read while the socket connects, in one request: the pin's app-state entry, and the Signal session and
    // identity of the account's phone under its LID, which its messages (e.g. an app-state key share) use.
    const phone = snapshot.creds.me.lid ? [`${snapshot.creds.me.lid.split(/[:@]/)[0]}_1.0`] : [];
    const entry = collection.pinsExact ? [`${collection.generation}.${connection.sync.indexMacOf([PIN_INDEX, first.chatJid])}`] : [];
    void auth.prefetch({ 'app-state-entry': entry, session: phone, 'identity-key': phone }).catch(() => undefined);
    if (!options.checkChatExists) connection.knownChats.set(first.chatJid, Number.POSITIVE_INFINITY);
    connection.checkAtLogin(first.chatJid);
    return connection;
  }

  /** Its connection cannot serve another call: closed, or idle past MAX_IDLE_MS. */
  private get stale(): boolean {
    return !this.socket.isOpen || Date.now() - this.idleSince >= MAX_IDLE_MS;
  }

  reconnectAhead(by: number): Promise<void> | undefined {
    if (this.ahead || !this.stale || this.sessionVersion === undefined || this.auth.failed()) return undefined;
    let verdict!: (login: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (verdict = resolve));
    // The stale connection ends before the new one logs in (two connections of one device replace each other).
    const ended = this.socket.end();
    this.ahead = { socket: this.newSocket(by, ended.then(() => decided)), verdict };
    return this.ahead.socket.requestWritten(FIRST_REQUEST_WAIT_MS);
  }

  async reusable(lease: Lease, first: PinRequest, by: number): Promise<Reuse> {
    // Work Baileys started between calls (e.g. a key share) writes under the released lease and fails:
    // let it finish first, so that a failure discards this memory.
    await this.socket.settle(Math.min(by, Date.now() + 1_000));
    const current = !this.auth.failed() && this.sessionVersion !== undefined && this.sessionVersion === lease.sessionVersion;
    const ahead = this.ahead;
    this.ahead = undefined;
    ahead?.verdict(current);
    if (!current) {
      await ahead?.socket.end();
      return false;
    }
    this.auth.rebind(lease);
    this.sync.conflicts = 0;
    if (!ahead && !this.stale) return 'open';
    // The session in memory is the stored one: a new connection over it, with no load.
    await this.socket.end();
    this.socket = ahead && !ahead.socket.isClosed ? ahead.socket : this.newSocket(by);
    this.opened = undefined;
    this.connectedOk = false;
    this.drained = undefined;
    this.checkAtLogin(first.chatJid);
    return 'reconnected';
  }

  /** A new connection over the session this link holds. */
  private newSocket(openBy: number, loginGate?: Promise<boolean>): WaSocket {
    return new WaSocket(this.auth, { deviceId: this.deviceId, wsUrl: this.options.wsUrl, openBy, loginGate });
  }

  /** Starts the existence check of a chat not known to exist as soon as WhatsApp accepts the login. */
  private checkAtLogin(chatJid: string): void {
    if (!this.options.checkChatExists || this.knownChats.has(chatJid)) return;
    const socket = this.socket;
    const done = new Promise<void>((resolve, reject) => socket.onLoggedIn(() => assertChatExists(socket, chatJid).then(resolve, reject)));
    done.catch(() => undefined);
    this.firstCheck = { chatJid, done };
  }

  async landed(batch: BatchRecord, by: number, phase: Phase): Promise<boolean | undefined> {
    await this.connected(phase);
    await this.sync.refresh(by);
    const mutations = this.sync.mutationsAfter(batch.base);
    if (!mutations) return undefined;
    return batch.mutations.some(([chatJid, pinned, at]) =>
      mutations.some((m) => m.index[0] === PIN_INDEX && m.index[1] === chatJid && !!m.value.pinAction?.pinned === pinned && toNumber(m.value.timestamp) === at),
    );
  }

  async drain(by: number, phase: Phase): Promise<void> {
    if (this.drained !== undefined) return;
    this.drained = (await phase('drain', () => this.socket.drain(Math.min(by, Date.now() + DRAIN_BUDGET_MS)))).complete;
  }

  async finish(lease: Lease, options: { failure?: unknown; keep: boolean; whenSeq?: number; by: number }): Promise<boolean> {
    // (A connection that failed to open or to sync in ready(), even with no batch to meet it, is not kept either.)
    const keep = options.keep && options.failure === undefined && this.connectedOk && !this.syncFailure && this.socket.isOpen && this.drained !== false;
    if (!keep) await this.socket.end();
    await this.socket.settle(options.by);
    await this.stage();
    const loggedOut = options.failure instanceof NotLoggedInError && options.failure.reason === 'logged-out';
    try {
      this.sessionVersion = await this.auth.commit(loggedOut ? { state: 'logged-out' } : undefined, { whenSeq: options.whenSeq });
    } catch (error) {
      if (error instanceof QueueGrewError) throw error;
      // After WhatsApp accepted the pin the answer stays 200: the next call catches up with a 409. A lease
      // taken over meanwhile (this call stalled past it) needs nobody; a store that failed may.
      logger[error instanceof LeaseLostError ? 'warn' : 'error']('session commit failed', { ...failureFields(error), pinAccepted: options.failure === undefined });
      await this.socket.end();
      await this.store.releaseLease(lease).catch(() => undefined);
      return false;
    }
    this.idleSince = Date.now();
    if (keep && !this.auth.failed()) return true;
    await this.socket.end();
    return false;
  }

  async end(): Promise<void> {
    this.ahead?.verdict(false);
    await Promise.all([this.socket.end(), this.ahead?.socket.end()]);
    this.ahead = undefined;
  }

  stats() {
    return { appStateVersion: this.sync.collection.version, conflicts: this.sync.conflicts, offlineDelivered: this.socket.offlineDelivered, dynamodbRequests: this.auth.requests() };
  }

  /**
   * Serves requests (in arrival order) as one decision: chats are checked, the collection brought up to
   * date when its pinned chats are not known exactly, then `plan` decides on the account's pinned chats
   * and what changes goes as one patch. A 409 (the collection moved first) means catching up and deciding
   * again; a plan that changes nothing is confirmed by WhatsApp (one resync) unless this call already did.
   */
  async serve(requests: readonly PinRequest[], plan: PinPlanner, by: number, phase: Phase, beforeUpload?: BeforeUpload): Promise<Map<string, RequestOutcome>> {
    await this.connected(phase);
    const outcomes = new Map<string, RequestOutcome>();
    const missing = await phase('exists', () => this.checkChats(requests, by));
    const live = requests.filter((request) => !missing.has(request.chatJid));
    for (const request of requests) if (missing.has(request.chatJid)) outcomes.set(request.id, missing.get(request.chatJid)!);
    if (!live.length) return outcomes;
    // A full sync that failed in ready() fails this decision: it is not tried twice in one call.
    const failure = this.syncFailure;
    this.syncFailure = undefined;
    if (failure) throw failure.error;
    await this.ready(by, phase);
    let confirmed = this.synced;
    this.synced = false;
    for (let attempt = 1; ; attempt++) {
      const { decisions, changes } = plan(this.sync.collection.pins, live);
      const inputs = mutations(changes);
      if (inputs.length) await beforeUpload?.({ base: this.sync.collection.version, decisions, mutations: inputs.map((m) => [m.index[1]!, !!m.value.pinAction?.pinned, Number(m.value.timestamp)]) });
      const settled = inputs.length
        ? (await this.withSharedKeys(() => phase('patch', () => this.sync.upload(inputs, by)), by, phase)) === 'accepted'
        : confirmed || (await this.withSharedKeys(() => phase('confirm', () => this.sync.refresh(by)), by, phase));
      if (settled) {
        for (const request of live) outcomes.set(request.id, decisions.get(request.id)!);
        return outcomes;
      }
      confirmed = true; // the catch-up brought the server's version
      if (attempt === MAX_ATTEMPTS) throw new WhatsAppRejectedError(`the account's app state kept changing (${attempt} attempts)`);
    }
  }

  /**
   * WhatsApp sent app state under a key the device lacks: the phone's share of that key may be waiting in
   * the backlog WhatsApp queued while the device was away (a rotation). Processes it, then tries once more.
   * (The collection is unchanged by a failed step: decoding is all or nothing.)
   */
  private async withSharedKeys<T>(work: () => Promise<T>, by: number, phase: Phase): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof AppStateKeyMissingError) || !error.keyId || this.drained !== undefined) throw error;
      await this.drain(by, phase);
      return work();
    }
  }

  async ready(by: number, phase: Phase): Promise<void> {
    await this.connected(phase);
    if (this.sync.collection.pinsExact) return;
    try {
      await this.withSharedKeys(() => phase('fullSync', () => this.sync.full(by)), by, phase);
      this.synced = true;
    } catch (error) {
      this.syncFailure = { error };
      throw error;
    }
  }

  /** Opens the connection on first use (a cold device). */
  private connected(phase: Phase): Promise<void> {
    return (this.opened ??= phase('connect', () => this.socket.open()).then(() => void (this.connectedOk = true)));
  }

  /** Stages what changed for the next commit: the chats known to exist, and the collection (a full sync's new generation is written first). */
  async stage(): Promise<void> {
    if (this.knownChatsChanged) {
      const known = [...this.knownChats].filter(([, at]) => Number.isFinite(at)).slice(-MAX_KNOWN_CHATS);
      this.auth.setKeys({ 'known-chats': { v1: known } });
      this.knownChatsChanged = false;
    }
    const collection = this.sync.collection;
    if (collection.unwrittenGeneration) {
      await this.store.putUnfenced(this.deviceId, 'app-state-entry', collection.entries());
      collection.written();
    }
    const changes = collection.changes();
    if (!changes) return;
    this.auth.setKeys({
      'app-state-meta': { [PIN_COLLECTION]: changes.meta },
      'app-state-entry': changes.entries,
      ...(this.legacyAppState && { 'app-state-sync-version': { [PIN_COLLECTION]: null } }),
    });
    this.legacyAppState = false;
  }

  /** Deletes the entries of generations replaced by earlier full syncs (their commit is durable); forgotten at the next commit. */
  async dropStaleGenerations(): Promise<void> {
    const stale = [...this.sync.collection.stale];
    for (const generation of stale) await this.store.deleteKeysWithPrefix(this.deviceId, 'app-state-entry', `${generation}.`);
    this.sync.collection.forgetStale(stale);
  }

  /** Chats not known to exist yet are checked in parallel; returns the ones WhatsApp does not know. */
  private async checkChats(requests: readonly PinRequest[], by: number): Promise<Map<string, ChatNotFoundError>> {
    const missing = new Map<string, ChatNotFoundError>();
    const unknown = [...new Set(requests.map((request) => request.chatJid))].filter((chat) => !this.knownChats.has(chat));
    await Promise.all(
      unknown.map(async (chatJid) => {
        try {
          await this.socket.within(this.firstCheck?.chatJid === chatJid ? this.firstCheck.done : assertChatExists(this.socket, chatJid), by);
          this.knownChats.delete(chatJid);
          this.knownChats.set(chatJid, Date.now());
          this.knownChatsChanged = true;
        } catch (error) {
          if (!(error instanceof ChatNotFoundError)) throw error;
          missing.set(chatJid, error);
        }
      }),
    );
    this.firstCheck = undefined;
    return missing;
  }
}

/** The pin mutations of a plan's changes; timestamps increase in request order (the phone orders its pinned list by them). */
function mutations(changes: ReadonlyMap<string, boolean>): MutationInput[] {
  const at = Date.now();
  return [...changes].map(([chatJid, pinned], i) => ({
    operation: 'set',
    index: [PIN_INDEX, chatJid],
    value: { pinAction: { pinned }, timestamp: at + i },
    apiVersion: PIN_API_VERSION,
  }));
}
