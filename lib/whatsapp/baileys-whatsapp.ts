import type { LTHashState } from '@whiskeysockets/baileys';
import { AppStateKeyMissingError, DeviceBusyError, NotLoggedInError, WhatsAppRejectedError, WhatsAppTimeoutError } from '../errors.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics, tracer } from '../observability.js';
import type { PinChatCommand, PinChatContext, WhatsAppPort } from '../pin/whatsapp-port.js';
import { openSessionAuthState, type SessionAuthState } from '../session/session-auth-state.js';
import type { Lease, SessionStore } from '../session/session-store.js';
import { applySyncAnswer, buildPinUpload, emptyState, PIN_COLLECTION, readUploadOutcome, resyncNode, type AppStateKeyLookup } from './app-state-patch.js';
import { assertChatExists } from './chat-existence.js';
import { WaSocket } from './wa-socket.js';

export interface BaileysWhatsAppOptions {
  /** WhatsApp's endpoint override (simulator); undefined → WhatsApp. */
  wsUrl?: string;
  checkChatExists: boolean;
  leaseSeconds: number;
  /** Keep the connection and the in-memory session between calls of a warm instance (default true). */
  keepWarm?: boolean;
}

/** Time kept after WhatsApp answered for draining, ending the socket and the final commit. */
const COMMIT_RESERVE_MS = 1_500;
/** Bound on resync pages after a conflict (a malformed answer must not loop forever). */
const MAX_RESYNC_PAGES = 20;
/** At most this long is spent on a queued offline backlog after the pin; the rest waits for the next call. */
const DRAIN_BUDGET_MS = 2_000;
/** A warm connection idle for longer is not trusted (a frozen Lambda sends no keep-alives). */
const MAX_IDLE_MS = 25_000;

/** A device's live session: its auth state (memory + store), its connection and what the call learnt. */
interface DeviceConnection {
  auth: SessionAuthState;
  socket: WaSocket;
  keyId: string;
  getKey: AppStateKeyLookup;
  /** Session version our last commit wrote: equal on the next lease means nobody else changed the session. */
  sessionVersion?: string;
  idleSince: number;
  /** Chats WhatsApp already confirmed exist (no second existence query on a warm connection). */
  knownChats: Set<string>;
  /** Newest server-accepted app-state of the pin collection computed during the call. */
  accepted?: LTHashState;
  /** The existence check started at login (cold path), until the pin awaits it. */
  existence?: Promise<void>;
  /** 409 conflicts met during the current call. */
  conflicts?: number;
  /** Whether the connection has been opened once. */
  opened: boolean;
  /** Whether its offline backlog was processed completely (otherwise it is not kept warm). */
  drained?: boolean;
}

type Phase = <T>(name: string, work: () => Promise<T>) => Promise<T>;

/**
 * The WhatsApp port over Baileys and the DynamoDB session store. A cold call: lease → load →
 * connect (existence check ∥ login IQs) → patch on the stored version → on 409 catch up and retry
 * once → drain offline traffic → fenced commit that releases the lease. A warm instance keeps the
 * connection and memory: the next call re-takes the lease, and if the session version it reads back is
 * the one it committed, pins with one round trip; otherwise it reloads.
 */
export class BaileysWhatsApp implements WhatsAppPort {
  private readonly warm = new Map<string, DeviceConnection>();

  constructor(
    private readonly store: SessionStore,
    private readonly options: BaileysWhatsAppOptions,
  ) {}

  async setChatPinned(command: PinChatCommand, context: PinChatContext): Promise<void> {
    const { deviceId } = command;
    const timings: Record<string, number> = {};
    const started = performance.now();
    const phase: Phase = async (name, work) => {
      const begin = performance.now();
      const segment = tracer.isTracingEnabled() ? tracer.getSegment()?.addNewSubsegment(`### ${name}`) : undefined;
      try {
        return await work();
      } finally {
        segment?.close();
        timings[name] = (timings[name] ?? 0) + Math.round(performance.now() - begin);
      }
    };
    const lease = await phase('lease', () => this.store.acquireLease(deviceId, context.invocationId, this.options.leaseSeconds));
    let connection = await this.takeWarm(lease, context.deadline);
    const warm = connection !== undefined;
    let failure: unknown;
    try {
      try {
        connection ??= await this.connect(command, context, lease, phase);
        await this.pin(connection, command, context, phase);
      } catch (error) {
        // A warm connection that died while the instance was frozen: reconnect once, transparently.
        const died = error instanceof WhatsAppTimeoutError || error instanceof DeviceBusyError;
        if (!warm || !died || connection?.socket.isOpen !== false) throw error;
        await connection.socket.end();
        connection = await this.connect(command, context, lease, phase);
        await this.pin(connection, command, context, phase);
      }
    } catch (error) {
      failure = error;
    }
    await phase('commit', () => this.finish(lease, connection, failure, context.deadline));
    metrics.addMetric(failure === undefined ? 'PinAccepted' : 'PinFailed', MetricUnit.Count, 1);
    metrics.addMetric('PinLatency', MetricUnit.Milliseconds, Math.round(performance.now() - started));
    metrics.addMetric(warm ? 'WarmConnectionReused' : 'ColdConnection', MetricUnit.Count, 1);
    if (connection?.conflicts) metrics.addMetric('ConflictRetries', MetricUnit.Count, connection.conflicts);
    if (connection?.socket.offlineDelivered) metrics.addMetric('OfflineMessagesDrained', MetricUnit.Count, connection.socket.offlineDelivered);
    logger.info('pin call', {
      deviceId,
      chatJid: command.chatJid,
      pinned: command.pinned,
      outcome: failure === undefined ? 'accepted' : (failure as Error).name,
      warm,
      timings,
      conflicts: connection?.conflicts,
      offlineDelivered: connection?.socket.offlineDelivered,
      // lease + load (when not warm) + what the auth state sent (reads, write-throughs, commit) or the bare release
      dynamodbRequests: 1 + (timings.load === undefined ? 0 : 1) + (connection ? connection.auth.requests() : 1),
    });
    if (failure !== undefined) throw failure;
  }

  /** Ends every kept connection (tests, local runner shutdown). */
  async close(): Promise<void> {
    const connections = [...this.warm.values()];
    this.warm.clear();
    await Promise.all(connections.map((connection) => connection.socket.end()));
  }

  /** The warm connection of the lease's device, if it is still ours, alive and unchanged by anyone else. */
  private async takeWarm(lease: Lease, deadline: number): Promise<DeviceConnection | undefined> {
    const connection = this.warm.get(lease.deviceId);
    this.warm.delete(lease.deviceId);
    if (!connection) return undefined;
    // Work Baileys started between calls (e.g. a resync on a server notification) writes under the
    // released lease and fails: let it finish first, so that a failure discards this memory.
    await connection.socket.settle(Math.min(deadline, Date.now() + 1_000));
    const usable =
      connection.socket.isOpen &&
      !connection.auth.failed() &&
      connection.sessionVersion !== undefined &&
      connection.sessionVersion === lease.sessionVersion &&
      Date.now() - connection.idleSince < MAX_IDLE_MS;
    if (!usable) {
      await connection.socket.end();
      return undefined;
    }
    connection.auth.rebind(lease);
    connection.accepted = undefined;
    connection.conflicts = 0;
    return connection;
  }

  /** Cold path: load the session and check it can pin; the socket connects, and the existence check leaves as soon as WhatsApp accepted the login. */
  private async connect(command: PinChatCommand, context: PinChatContext, lease: Lease, phase: Phase): Promise<DeviceConnection> {
    const { deviceId } = command;
    const snapshot = await phase('load', () => this.store.load(deviceId));
    if (snapshot.state !== 'linked' || !snapshot.creds?.me) {
      throw new NotLoggedInError(deviceId, snapshot.state === 'linked' ? 'linking' : (snapshot.state as 'absent' | 'linking' | 'logged-out'));
    }
    const auth = openSessionAuthState(this.store, lease, snapshot);
    const keyId = auth.state.creds.myAppStateKeyId;
    const getKey: AppStateKeyLookup = async (id) => (await auth.state.keys.get('app-state-sync-key', [id]))[id];
    if (!keyId || !(await getKey(keyId))) throw new AppStateKeyMissingError(deviceId);
    // Baileys checks its current pre-key in the store during login, between two login IQs: read it now,
    // while the socket connects, so that check is answered from memory instead of a serial store read.
    const currentPreKey = String(Math.max(0, auth.state.creds.nextPreKeyId - 1));
    void Promise.resolve(auth.state.keys.get('pre-key', [currentPreKey])).catch(() => undefined);
    const socket = new WaSocket(auth, { deviceId, wsUrl: this.options.wsUrl, openBy: context.deadline - COMMIT_RESERVE_MS });
    const connection: DeviceConnection = { auth, socket, keyId, getKey, idleSince: Date.now(), knownChats: new Set(), opened: false };
    if (this.options.checkChatExists) {
      connection.existence = new Promise<void>((resolve, reject) => socket.onLoggedIn(() => assertChatExists(socket, command.chatJid).then(resolve, reject)));
      connection.existence.catch(() => undefined);
    }
    return connection;
  }

  private async pin(connection: DeviceConnection, command: PinChatCommand, context: PinChatContext, phase: Phase): Promise<void> {
    const answerBy = context.deadline - COMMIT_RESERVE_MS;
    const cold = !connection.opened;
    if (cold) await phase('connect', () => connection.socket.open());
    connection.opened = true;
    if (this.options.checkChatExists && !connection.knownChats.has(command.chatJid)) {
      await phase('exists', () => connection.existence ?? assertChatExists(connection.socket, command.chatJid));
      connection.knownChats.add(command.chatJid);
    }
    connection.existence = undefined;
    await phase('patch', () => this.uploadPin(connection, command, answerBy));
    // What WhatsApp queued while we were away is processed after the patch, within the remaining budget.
    if (cold) {
      const by = Math.min(Date.now() + DRAIN_BUDGET_MS, context.deadline - COMMIT_RESERVE_MS);
      connection.drained = (await phase('drain', () => connection.socket.drain(by))).complete;
    }
  }

  /**
   * Commits what changed and releases the lease in one fenced transaction, whatever happened. A
   * healthy connection is kept warm; anything else is ended first, so no late write races the commit.
   */
  private async finish(lease: Lease, connection: DeviceConnection | undefined, failure: unknown, deadline: number): Promise<void> {
    const keep = failure === undefined && this.options.keepWarm !== false && connection?.socket.isOpen === true && connection.drained !== false;
    try {
      if (!connection) return await this.store.releaseLease(lease);
      if (!keep) await connection.socket.end();
      await connection.socket.settle(deadline - COMMIT_RESERVE_MS / 2);
      await this.keepNewestVersion(connection);
      const loggedOut = failure instanceof NotLoggedInError && failure.reason === 'logged-out';
      connection.sessionVersion = await connection.auth.commit(loggedOut ? { state: 'logged-out' } : undefined);
      connection.idleSince = Date.now();
      if (keep && !connection.auth.failed()) this.warm.set(lease.deviceId, connection);
      else if (keep) await connection.socket.end();
    } catch (error) {
      // After WhatsApp accepted the pin the answer stays 200: the next call catches up with a 409.
      logger.error('session commit failed', { error, pinAccepted: failure === undefined });
      this.warm.delete(lease.deviceId);
      await connection?.socket.end();
      await this.store.releaseLease(lease).catch(() => undefined);
    }
  }

  /**
   * Baileys may resync on its own during the call (a server_sync notification, a key share) and write
   * the collection's state through; ours may be newer. Both are server-accepted: the newest wins.
   */
  private async keepNewestVersion({ auth, accepted }: DeviceConnection) {
    if (!accepted) return;
    const current = (await auth.state.keys.get('app-state-sync-version', [PIN_COLLECTION]))[PIN_COLLECTION];
    if (!current || accepted.version >= current.version) auth.setKeys({ 'app-state-sync-version': { [PIN_COLLECTION]: accepted } });
  }

  /** Uploads the pin on the stored version; on 409, applies the server's patches and retries once. */
  private async uploadPin(connection: DeviceConnection, command: PinChatCommand, by: number) {
    const { auth, socket, keyId, getKey } = connection;
    const stored = (await auth.state.keys.get('app-state-sync-version', [PIN_COLLECTION]))[PIN_COLLECTION];
    let state: LTHashState = connection.accepted ?? stored ?? emptyState();
    for (let attempt = 1; ; attempt++) {
      const upload = await buildPinUpload(command.chatJid, command.pinned, state, keyId, getKey);
      const answer = await socket.query(upload.node, by);
      const outcome = readUploadOutcome(answer, PIN_COLLECTION);
      if (outcome.kind === 'accepted') {
        connection.accepted = upload.state;
        return;
      }
      if (outcome.kind === 'rejected') throw new WhatsAppRejectedError(`WhatsApp rejected the patch: ${outcome.reason}`);
      connection.conflicts = (connection.conflicts ?? 0) + 1;
      if (attempt === 2) throw new WhatsAppRejectedError('WhatsApp answered 409 conflict twice');
      state = await this.catchUp(socket, answer, state, getKey, by);
      // The server's patches are accepted state: keep them even if the retry fails.
      connection.accepted = state;
    }
  }

  /** Applies the patches a 409 carried, then resyncs (bounded) while the server says there are more. */
  private async catchUp(socket: WaSocket, conflict: Parameters<typeof applySyncAnswer>[0], state: LTHashState, getKey: AppStateKeyLookup, by: number) {
    let { state: next, hasMore, applied } = await applySyncAnswer(conflict, PIN_COLLECTION, state, getKey);
    for (let page = 0; hasMore || applied === 0; page++) {
      if (page === MAX_RESYNC_PAGES) throw new WhatsAppRejectedError('app-state resync did not converge');
      const answer = await socket.query(resyncNode(PIN_COLLECTION, next.version), by);
      const before = next.version;
      ({ state: next, hasMore, applied } = await applySyncAnswer(answer, PIN_COLLECTION, next, getKey));
      if (applied === 0 || next.version <= before) {
        if (hasMore) throw new WhatsAppRejectedError('app-state resync made no progress');
        break;
      }
    }
    return next;
  }
}
