import type { LTHashState } from '@whiskeysockets/baileys';
import { AppStateKeyMissingError, NotLoggedInError, WhatsAppRejectedError } from '../errors.js';
import { logger } from '../observability.js';
import type { PinChatCommand, PinChatContext, WhatsAppPort } from '../pin/whatsapp-port.js';
import { openSessionAuthState, type SessionAuthState } from '../session/session-auth-state.js';
import type { SessionStore } from '../session/session-store.js';
import { applySyncAnswer, buildPinUpload, emptyState, PIN_COLLECTION, readUploadOutcome, resyncNode, type AppStateKeyLookup } from './app-state-patch.js';
import { assertChatExists } from './chat-existence.js';
import { WaSocket } from './wa-socket.js';

export interface BaileysWhatsAppOptions {
  /** WhatsApp's endpoint override (simulator); undefined → WhatsApp. */
  wsUrl?: string;
  checkChatExists: boolean;
  leaseSeconds: number;
}

/** Time kept after WhatsApp answered for draining, ending the socket and the final commit. */
const COMMIT_RESERVE_MS = 1_500;
/** Bound on resync pages after a conflict (a malformed answer must not loop forever). */
const MAX_RESYNC_PAGES = 20;

/**
 * The WhatsApp port over Baileys and the DynamoDB session store. One call: lease → load → connect →
 * (existence check ∥ login IQs) → patch on the stored version → on 409 catch up and retry once →
 * drain offline traffic → end → fenced commit that releases the lease.
 */
export class BaileysWhatsApp implements WhatsAppPort {
  constructor(
    private readonly store: SessionStore,
    private readonly options: BaileysWhatsAppOptions,
  ) {}

  async setChatPinned(command: PinChatCommand, context: PinChatContext): Promise<void> {
    const { deviceId } = command;
    const timings: Record<string, number> = {};
    const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        timings[name] = Math.round(performance.now() - started);
      }
    };
    const lease = await phase('lease', () => this.store.acquireLease(deviceId, context.invocationId, this.options.leaseSeconds));
    let auth: SessionAuthState | undefined;
    let failure: unknown;
    try {
      const snapshot = await phase('load', () => this.store.load(deviceId));
      if (snapshot.state !== 'linked' || !snapshot.creds?.me) {
        throw new NotLoggedInError(deviceId, snapshot.state === 'linked' ? 'linking' : (snapshot.state as 'absent' | 'linking' | 'logged-out'));
      }
      auth = openSessionAuthState(this.store, lease, snapshot);
      const keyId = auth.state.creds.myAppStateKeyId;
      const getKey: AppStateKeyLookup = async (id) => (await auth!.state.keys.get('app-state-sync-key', [id]))[id];
      if (!keyId || !(await getKey(keyId))) throw new AppStateKeyMissingError(deviceId);
      await this.pinOverSocket(command, context, auth, keyId, getKey, phase);
    } catch (error) {
      failure = error;
    }
    // Whatever happened, what changed is committed and the lease released in one fenced transaction.
    const loggedOut = failure instanceof NotLoggedInError && failure.reason === 'logged-out' && auth !== undefined;
    try {
      await phase('commit', async () => {
        if (auth) await auth.commit(loggedOut ? { state: 'logged-out' } : undefined);
        else await this.store.releaseLease(lease);
      });
    } catch (error) {
      // WhatsApp already accepted the pin: the answer stays 200; the next call catches up with a 409.
      logger.error('session commit failed', { error, pinAccepted: failure === undefined });
    }
    logger.info('pin call', {
      deviceId,
      chatJid: command.chatJid,
      pinned: command.pinned,
      outcome: failure === undefined ? 'accepted' : (failure as Error).name,
      timings,
      dynamodbRequests: auth?.requests(),
    });
    if (failure !== undefined) throw failure;
  }

  private async pinOverSocket(
    command: PinChatCommand,
    context: PinChatContext,
    auth: SessionAuthState,
    keyId: string,
    getKey: AppStateKeyLookup,
    phase: <T>(name: string, work: () => Promise<T>) => Promise<T>,
  ): Promise<void> {
    const answerBy = context.deadline - COMMIT_RESERVE_MS;
    const socket = new WaSocket(auth, { deviceId: command.deviceId, wsUrl: this.options.wsUrl, openBy: answerBy });
    try {
      // The existence check leaves as soon as WhatsApp accepted the login, overlapping Baileys' login IQs.
      let exists: Promise<void> = Promise.resolve();
      if (this.options.checkChatExists) {
        exists = new Promise<void>((resolve, reject) => socket.onLoggedIn(() => assertChatExists(socket, command.chatJid).then(resolve, reject)));
        exists.catch(() => undefined);
      }
      await phase('connect', () => socket.open());
      await phase('exists', () => exists);
      await phase('patch', () => this.uploadPin(socket, command, auth, keyId, getKey, answerBy));
      await phase('drain', () => socket.drain(context.deadline - COMMIT_RESERVE_MS / 2));
    } finally {
      await socket.end();
      await this.keepNewestVersion(auth);
    }
  }

  /**
   * Baileys may resync on its own during the call (a server_sync notification, a key share) and write
   * the collection's state through; ours may be newer. Both are server-accepted: the newest wins.
   */
  private async keepNewestVersion(auth: SessionAuthState) {
    const ours = this.accepted.get(auth);
    if (!ours) return;
    const current = (await auth.state.keys.get('app-state-sync-version', [PIN_COLLECTION]))[PIN_COLLECTION];
    if (!current || ours.version >= current.version) auth.setKeys({ 'app-state-sync-version': { [PIN_COLLECTION]: ours } });
  }

  /** The newest server-accepted state this call computed, per auth state. */
  private readonly accepted = new WeakMap<SessionAuthState, LTHashState>();

  /** Uploads the pin on the stored version; on 409, applies the server's patches and retries once. */
  private async uploadPin(socket: WaSocket, command: PinChatCommand, auth: SessionAuthState, keyId: string, getKey: AppStateKeyLookup, by: number) {
    const stored = (await auth.state.keys.get('app-state-sync-version', [PIN_COLLECTION]))[PIN_COLLECTION];
    let state: LTHashState = stored ?? emptyState();
    for (let attempt = 1; ; attempt++) {
      const upload = await buildPinUpload(command.chatJid, command.pinned, state, keyId, getKey);
      const answer = await socket.query(upload.node, by);
      const outcome = readUploadOutcome(answer, PIN_COLLECTION);
      if (outcome.kind === 'accepted') {
        this.accepted.set(auth, upload.state);
        return;
      }
      if (outcome.kind === 'rejected') throw new WhatsAppRejectedError(`WhatsApp rejected the patch: ${outcome.reason}`);
      if (attempt === 2) throw new WhatsAppRejectedError('WhatsApp answered 409 conflict twice');
      state = await this.catchUp(socket, answer, state, getKey, by);
      // The server's patches are accepted state: keep them even if the retry fails.
      this.accepted.set(auth, state);
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
