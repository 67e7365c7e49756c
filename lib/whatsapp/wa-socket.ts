import type { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { Boom } from '@hapi/boom';
import makeWASocket, {
  areJidsSameUser,
  buildAckStanza,
  DisconnectReason,
  getBinaryNodeChild,
  isJidNewsletter,
  jidDecode,
  S_WHATSAPP_NET,
  type BinaryNode,
  type WASocket,
} from '@whiskeysockets/baileys';
import { AppError, DeviceBusyError, NotLoggedInError, WhatsAppRejectedError, WhatsAppTimeoutError } from '../errors.js';
import type { SessionAuthState } from '../session/session-auth-state.js';
import { baileysLogger, LOGIN_WITHHELD } from './baileys-logger.js';
import { applyProcessRoot, checkCertificatesForReal } from './certificate-signature.js';

checkCertificatesForReal();

export interface SocketOptions {
  deviceId: string;
  /** Overrides WhatsApp's endpoint (the simulator, locally and in tests). */
  wsUrl?: string;
  /** Epoch ms by which the socket must be open. */
  openBy: number;
  /**
   * Whether to log in, when that is decided later (the lease is being taken): until it resolves, only the
   * Noise hello leaves; `false` ends the connection before the device said who it is.
   */
  loginGate?: Promise<boolean>;
}

/** How long WhatsApp's 440 (another connection of this device) suggests waiting before a retry. */
const REPLACED_RETRY_SECONDS = 5;

/**
 * WhatsApp's `server_sync` notification says an app-state collection moved. Baileys would resync it on
 * its own (downloading snapshots of collections this device never uses, and keeping a state lib/app-state
 * does not see): here it is acknowledged and reported to `onSync` instead. The next pin catches up (its
 * upload's 409, or its confirming resync).
 */
export function takeServerSync(sock: WASocket, onSync: (node: BinaryNode) => void): void {
  const baileys = sock.ws.listeners('CB:notification') as Array<(node: BinaryNode) => void>;
  sock.ws.removeAllListeners('CB:notification');
  sock.ws.on('CB:notification', (node: BinaryNode) => {
    if (node.attrs.type !== 'server_sync') return baileys.forEach((listener) => listener(node));
    onSync(node);
    void sock.sendNode(buildAckStanza(node, undefined, sock.authState.creds.me?.id)).catch(() => undefined);
  });
}

/** Pre-keys the server may run down to before a login uploads more, and how many it then uploads (whatsmeow's figures). */
const MIN_PRE_KEYS = 5;
const PRE_KEY_UPLOAD = 50;

/**
 * After `<success>`, WhatsApp Web's order (as whatsapp-rust mirrors it): `passive active` at once, the
 * pre-key count (and upload, if low) alongside it, and no digest (whatsmeow sends none either; a pin does
 * not need it). Baileys awaits count → upload → active → digest one after another: three round trips in
 * front of the first app-state IQ where one is enough. Uploads are whatsmeow's 50 keys (one transaction
 * of the session store) rather than Baileys' 812 when the server ran out; Baileys' read of its current
 * pre-key (a storage-loss heuristic) is left out. The rest of Baileys' login handler is kept as is, one turn of
 * the event loop after `onOpen`: the pin's first app-state IQ leaves before what Baileys does once open (its
 * presence, the unified session, the own-LID session), none of which the pin waits for.
 */
export function takeLogin(sock: WASocket, onOpen: () => void): void {
  sock.ws.removeAllListeners('CB:success');
  sock.ws.on('CB:success', async (node: BinaryNode) => {
    sock.updateServerTimeOffset(node);
    const preKeys = (async () => {
      const answer = await sock.query({ tag: 'iq', attrs: { to: S_WHATSAPP_NET, xmlns: 'encrypt', type: 'get' }, content: [{ tag: 'count', attrs: {} }] });
      if (Number(getBinaryNodeChild(answer, 'count')?.attrs.value ?? 0) <= MIN_PRE_KEYS) await sock.uploadPreKeys(PRE_KEY_UPLOAD);
    })().catch((error: unknown) => baileysLogger.warn({ error }, 'failed to check or upload pre-keys'));
    try {
      await sock.query({ tag: 'iq', attrs: { to: S_WHATSAPP_NET, xmlns: 'passive', type: 'set' }, content: [{ tag: 'active', attrs: {} }] });
    } catch (error) {
      baileysLogger.warn({ error }, 'failed to send initial passive iq');
    }
    const me = sock.authState.creds.me;
    sock.ev.emit('creds.update', { me: { ...me!, lid: node.attrs.lid } });
    onOpen();
    setImmediate(() => {
      if (!sock.ws.isOpen) return; // closed meanwhile: Baileys has reported the close, not the open
      sock.ev.emit('connection.update', { connection: 'open' });
      void sock.sendUnifiedSession();
      if (!node.attrs.lid || !me?.id) return;
      const { user, device } = jidDecode(me.id)!;
      void (async () => {
        await sock.signalRepository.lidMapping.storeLIDPNMappings([{ lid: node.attrs.lid!, pn: me.id }]);
        await sock.authState.keys.set({ 'device-list': { [user]: [device?.toString() ?? '0'] } });
        await sock.signalRepository.migrateSession(me.id, node.attrs.lid!);
      })().catch((error: unknown) => baileysLogger.warn({ error }, 'failed to create own LID session'));
    });
    await preKeys;
  });
}

/**
 * A companion device receives every message of the account. It decrypts only the account's own: the
 * phone's protocol messages (app-state key shares, …) and what the user's other devices sent. Messages
 * of other senders (contacts, groups, status, newsletters) are receipted unread, with the same
 * `inactive` receipt Baileys sends after decrypting them, so the server drops them as delivered. That
 * spares per message a Signal decryption, its session write (a DynamoDB transaction, durable before the
 * receipt), LID lookups for new senders and, on a Bad MAC, retry receipts to the sender; the account
 * loses nothing it had (this device shows no messages). `onSkipped` counts them.
 */
export function receiptOthersUnread(sock: WASocket, onSkipped: () => void): void {
  const baileys = sock.ws.listeners('CB:message') as Array<(node: BinaryNode) => void>;
  sock.ws.removeAllListeners('CB:message');
  sock.ws.on('CB:message', (node: BinaryNode) => {
    const { from, participant, id } = node.attrs;
    const me = sock.authState.creds.me;
    const sender = participant ?? from;
    if (!from || !id || areJidsSameUser(sender, me?.id) || (me?.lid && areJidsSameUser(sender, me.lid))) return baileys.forEach((listener) => listener(node));
    onSkipped();
    const answer = isJidNewsletter(from) ? sock.sendNode(buildAckStanza(node, undefined, me?.id)) : sock.sendReceipt(from, participant, [id], 'inactive');
    void answer.catch(() => undefined);
  });
}

/**
 * The `ws` WebSocket under Baileys' client (created by makeWASocket): until the upgrade, its HTTP request; once open,
 * its TCP (TLS) socket.
 */
const webSocketOf = (sock: WASocket) =>
  (sock.ws as unknown as { socket: EventEmitter & { send(data: Uint8Array, cb?: (error?: Error) => void): void; _req?: ClientRequest | null; _socket?: Socket } }).socket;

/**
 * Holds the login until `gate` resolves. The first frame, the Noise hello, carries only this connection's
 * ephemeral key; the second, the client finish, carries the device's static key and login payload: it
 * leaves only on `true`. On `false` the connection ends without having identified the device (the held
 * finish fails as withheld, which the Baileys logger drops).
 */
function holdLogin(sock: WASocket, gate: Promise<boolean>): void {
  const raw = webSocketOf(sock);
  const send = raw.send.bind(raw);
  let frames = 0;
  raw.send = (data, cb) => {
    if (frames++ === 0) return send(data, cb);
    void gate.then((go) => (go ? send(data, cb) : cb?.(new Error(LOGIN_WITHHELD))));
  };
  // Registered first, so it runs before the held frames are sent: later frames go straight out.
  void gate.then((go) => (go ? void (raw.send = send) : sock.end(undefined)));
}

/**
 * Frames sent while one chunk of incoming traffic is handled (the receipts of a queued backlog, a burst of
 * acks) leave together, in one write of the TCP (TLS) socket once that chunk is done, rather than one system
 * call (and TLS record) per frame.
 */
function coalesceWrites(sock: WASocket): void {
  const raw = webSocketOf(sock);
  raw.once('open', () => {
    const tcp = raw._socket;
    let corked = false;
    tcp?.prependListener('data', () => {
      if (corked) return;
      corked = true;
      tcp.cork();
      setImmediate(() => {
        corked = false;
        tcp.uncork();
      });
    });
  });
}

/** A Baileys close reason as one of our typed errors. */
export function closeReasonError(deviceId: string, error: unknown): Error {
  const status = (error as Boom | undefined)?.output?.statusCode;
  if (status === DisconnectReason.loggedOut) return new NotLoggedInError(deviceId, 'logged-out', { cause: error });
  if (status === DisconnectReason.connectionReplaced) return new DeviceBusyError(deviceId, REPLACED_RETRY_SECONDS, { cause: error });
  return new WhatsAppTimeoutError(`connection to WhatsApp closed (${status ?? 'no status'})`, { cause: error });
}

/**
 * One short-lived WhatsApp connection on a restored session, with the least traffic Baileys allows:
 * no init queries, no presence, no history sync, no online marking. Never calls logout().
 */
export class WaSocket {
  readonly sock: WASocket;
  /** Settles with the reason once the connection is closed (never rejects). */
  readonly closed: Promise<unknown>;
  /** Resolves once WhatsApp answered the login's `active` (takeLogin). */
  private readonly opened: Promise<void>;
  /** Queued traffic (messages, notifications, receipts) WhatsApp delivered since login. */
  private delivered = 0;
  /** Key-store operations Baileys has in flight, and when the last one ended. */
  private keyOps = 0;
  private lastKeyOp = Date.now();
  /** Messages WhatsApp queued while we were away (`<ib><offline count>`); undefined until it says. */
  private offlineCount: number | undefined;
  private ended = false;
  /** `server_sync` notifications received (app state moved on the server while we were connected). */
  serverSyncs = 0;
  /** Messages of other senders receipted unread. */
  othersUnread = 0;
  /** The reason of a `<failure>` WhatsApp answered the login with. */
  private failureReason: number | undefined;

  constructor(auth: SessionAuthState, private readonly options: SocketOptions) {
    const budget = Math.max(1, options.openBy - Date.now());
    const keys = auth.state.keys;
    const track = <T>(work: () => Promise<T>): Promise<T> => {
      this.keyOps++;
      return work().finally(() => {
        this.keyOps--;
        this.lastKeyOp = Date.now();
      });
    };
    applyProcessRoot();
    this.sock = makeWASocket({
      auth: {
        creds: auth.state.creds,
        keys: { get: (type, ids) => track(async () => keys.get(type, ids)), set: (data) => track(async () => keys.set(data)) },
      },
      waWebSocketUrl: options.wsUrl ?? 'wss://web.whatsapp.com/ws/chat',
      logger: baileysLogger,
      // No timeout of Baileys' own per frame sent (two stack traces, an error and a timer each, 300 times on a busy pin):
      // every wait here races its own deadline (open, query, drain, settle).
      connectTimeoutMs: 0,
      defaultQueryTimeoutMs: budget,
      keepAliveIntervalMs: 60_000,
      fireInitQueries: false,
      markOnlineOnConnect: false,
      syncFullHistory: false,
      shouldSyncHistoryMessage: () => false,
      emitOwnEvents: false,
      generateHighQualityLinkPreview: false,
      enableRecentMessageCache: false,
      transactionOpts: { maxCommitRetries: 1, delayBetweenTriesMs: 0 },
    });
    if (options.loginGate) holdLogin(this.sock, options.loginGate);
    coalesceWrites(this.sock);
    this.sock.ev.on('creds.update', (update) => auth.credsChanged(update));
    takeServerSync(this.sock, () => this.serverSyncs++);
    let open!: () => void;
    // Resolved from the start: the login may complete before open() is called.
    this.opened = new Promise<void>((resolve) => (open = resolve));
    takeLogin(this.sock, open);
    receiptOthersUnread(this.sock, () => this.othersUnread++);
    this.sock.ws.on('frame', (frame: BinaryNode) => {
      if (QUEUED_TAGS.has(frame.tag)) this.delivered++;
    });
    // Baileys decodes frames asynchronously: the socket's close can be handled before the <failure> that
    // caused it is (a 428 instead of the 401). The failure's reason, once seen, decides.
    this.sock.ws.on('CB:failure', (node: BinaryNode) => {
      this.failureReason = Number(node.attrs.reason);
    });
    this.sock.ws.on('CB:ib,,offline', (node: BinaryNode) => {
      this.offlineCount = Number(getBinaryNodeChild(node, 'offline')?.attrs.count ?? 0);
    });
    this.closed = new Promise((resolve) => {
      this.sock.ev.on('connection.update', ({ connection, lastDisconnect }) => {
        if (connection !== 'close') return;
        this.ended = true;
        // Baileys' end() drops the socket's 'close' listeners before it closes it: queries still waiting
        // (its own login tasks' among them) would wait out their timeout, on Lambda in a later invocation.
        // Their 'error' listeners remain: they end now.
        this.sock.ws.emit('error', new Boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed }));
        resolve(lastDisconnect?.error);
      });
    });
  }

  /**
   * Resolves once the connection's first request (the WebSocket upgrade) was written to the network, or at the
   * latest after `maxWaitMs` (a connection still connecting, or one that failed: open() reports that).
   */
  requestWritten(maxWaitMs: number): Promise<void> {
    const request = webSocketOf(this.sock)._req;
    if (!request || request.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxWaitMs);
      function done() {
        clearTimeout(timer);
        request!.off('finish', done).off('close', done);
        resolve();
      }
      request.once('finish', done).once('close', done);
    });
  }

  /** Runs `listener` once the server accepted the login (`<success>`), before the login IQs complete. */
  onLoggedIn(listener: () => void): void {
    this.sock.ws.once('CB:success', listener);
  }

  /** Resolves when Baileys reports the connection open; rejects with a typed error on close or at the deadline. */
  async open(): Promise<void> {
    const outcome = await this.race(this.opened.then(() => 'open' as const), this.options.openBy);
    if (outcome !== 'open') throw outcome;
  }

  /** Sends an IQ and waits for its answer until `by`; a close or the deadline becomes a typed error. */
  async query(node: BinaryNode, by: number): Promise<BinaryNode> {
    const answer = this.sock.query(node, Math.max(1, by - Date.now())).then(
      (result) => result ?? new WhatsAppTimeoutError('WhatsApp did not answer the query'),
      (error: unknown) => {
        if ((error as Boom).output?.statusCode === DisconnectReason.timedOut) return new WhatsAppTimeoutError('WhatsApp did not answer the query', { cause: error });
        // An IQ answered with a top-level <error code=…> (Baileys' assertNodeErrorFree: a Boom whose data is the code): WhatsApp refused.
        if ((error as Boom).isBoom && typeof (error as Boom).data === 'number') return new WhatsAppRejectedError(`WhatsApp answered ${(error as Boom).data} ${(error as Error).message}`, { cause: error });
        return error;
      },
    );
    const outcome = await this.race(answer, by);
    if (outcome instanceof Error || !('tag' in (outcome as object))) throw outcome;
    return outcome as BinaryNode;
  }

  /**
   * Runs one of Baileys' own request helpers (usync, group metadata) under this connection's typed
   * failures: a close or the deadline becomes one of our errors, an IQ error answer a rejection.
   */
  async within<T>(work: Promise<T>, by: number): Promise<T> {
    const outcome = await this.race(
      work.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      by,
    );
    if (outcome instanceof Error) throw outcome;
    if ('value' in outcome) return outcome.value;
    const { error } = outcome;
    if (error instanceof AppError) throw error;
    if ((error as Boom).isBoom && typeof (error as Boom).data === 'number') throw new WhatsAppRejectedError(`WhatsApp answered ${(error as Boom).data} ${(error as Error).message}`, { cause: error });
    // Baileys rejects what was in flight on a close with the socket's close code: the connection is gone.
    throw new WhatsAppTimeoutError('the connection to WhatsApp closed during a request', { cause: error });
  }

  /**
   * Lets Baileys process what WhatsApp queued while we were away (offline messages, key shares): done
   * when all `<ib><offline count>` items arrived and the key store is idle, or at `by`. Cutting it short
   * is safe: key changes are durable before their receipt leaves, unreceipted messages come again.
   */
  async drain(by: number): Promise<{ complete: boolean }> {
    for (;;) {
      if (this.offlineCount === 0) return { complete: true };
      if (this.offlineCount !== undefined && this.delivered >= this.offlineCount && this.keyStoreIdle(50)) return { complete: true };
      if (Date.now() >= by || this.ended) return { complete: false };
      await sleep(10);
    }
  }

  /**
   * Waits until Baileys' own background work on the key store (e.g. its own-LID session set-up right
   * after login) has finished and stayed quiet for `quietMs`, or until `by`: the commit must come after
   * it, or its writes would land after the lease is gone.
   */
  async settle(by: number): Promise<void> {
    while (Date.now() < by && !this.keyStoreIdle(25)) await sleep(5);
  }

  private keyStoreIdle(quietMs: number): boolean {
    return this.keyOps === 0 && Date.now() - this.lastKeyOp >= quietMs;
  }

  /** Queued stanzas (messages, notifications, receipts) delivered since login. */
  get offlineDelivered(): number {
    return this.delivered;
  }

  /** Open and usable for another call (warm reuse). */
  get isOpen(): boolean {
    return !this.ended && this.sock.ws.isOpen;
  }

  /** Closed for good (a connection still connecting is not). */
  get isClosed(): boolean {
    return this.ended;
  }

  /** Ends the connection (no logout) and waits until Baileys has closed it. */
  async end(): Promise<void> {
    this.sock.end(undefined);
    await this.closed;
  }

  private async race<T>(work: Promise<T>, by: number): Promise<T | Error> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new WhatsAppTimeoutError('WhatsApp did not answer in time')), Math.max(0, by - Date.now()));
    });
    const closed = this.closed.then((reason) =>
      closeReasonError(
        this.options.deviceId,
        this.failureReason === DisconnectReason.loggedOut ? new Boom('Connection Failure', { statusCode: DisconnectReason.loggedOut }) : (reason ?? new Boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed })),
      ),
    );
    try {
      return await Promise.race([work, deadline, closed]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Stanzas WhatsApp queues for a device while it is away, counted by `<ib><offline count>`. */
const QUEUED_TAGS = new Set(['message', 'notification', 'receipt', 'call']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
