/** The simulated WhatsApp server: accounts, logins, IQs, app state, the phones, faults and the stanza record. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode, type proto } from '@whiskeysockets/baileys';
import { WebSocketServer } from 'ws';
import { AppStateServer, type PhoneChange } from './app-state-server.js';
import { createServerIdentity, type ServerIdentity } from './cert-chain.js';
import { SimConnection, type ConnectionHost } from './connection.js';
import { FaultBook } from './faults.js';
import type {
  ChatState, ConnectionCounts, Fault, LinkedDevice, MediaFault, MediaRequestRecord, OfflineQueueStats, PinnedChat, ProtocolViolation,
  SeedAppStateOptions, SeededAppState, SimAccount, SimPhone, Simulator, SimulatorOptions, StanzaRecord,
} from './index.js';
import { appStateKeyShareOrder, linkDevice } from './link-device.js';
import { MediaHost } from './media-host.js';
import { seedAppState } from './seed.js';
import { Pairing } from './pairing.js';
import { buildKeyShareMessage, messageNode, PhoneSignal, textMessage } from './phone-signal.js';
import { acceptPreKeyUpload, digestNode, InvalidKeyBundle, rotateSignedPreKey, takePreKeyBundle } from './pre-keys.js';
import { answerGroupQuery, answerParticipating, answerUsync, QueryError } from './queries.js';
import { Registry, type AccountRecord, type DeviceRecord } from './registry.js';

export const SERVER_JID = '@s.whatsapp.net';
const PRE_KEY_LOW = 5;
const unixTime = () => String(Math.floor(Date.now() / 1000));
export const stanzaId = () => randomBytes(8).toString('hex').toUpperCase();

interface AccountState { record: AccountRecord; appState: AppStateServer; phone: PhoneSignal; sim: PhoneControl }

/** The account's phone as tests drive it: its settings and the reactions it has pending. */
interface PhoneControl extends SimPhone { pending: Set<Promise<void>> }

/** Default delay before the phone enforces its pin limit ("shortly after"). */
const PIN_LIMIT_DELAY_MS = 100;

class SimServer implements Simulator, ConnectionHost {
  url = '';
  readonly media = new MediaHost();
  readonly rootPublicKey: Uint8Array;
  readonly identity: ServerIdentity = createServerIdentity();
  readonly record: StanzaRecord[] = [];
  readonly registry = new Registry();
  private readonly ownViolations: ProtocolViolation[] = [];
  private readonly accounts = new Map<string, AccountState>();
  private readonly faults = new FaultBook();
  private readonly live = new Set<SimConnection>();
  /** Connections a newer login of the same device replaced: already uncounted. */
  private readonly replaced = new Set<SimConnection>();
  private readonly stats = new Map<string, ConnectionCounts>();
  private readonly pairing: Pairing;
  private readonly wss: WebSocketServer;
  private nextConnectionId = 1;
  private phoneWork: Promise<unknown> = Promise.resolve();
  /** Other accounts' phones (contacts) as Signal parties, by phone number. */
  private readonly contactPhones = new Map<string, PhoneSignal>();
  /** What to do when a queued message is receipted (e.g. the device now holds the shared keys). */
  private readonly onReceipted = new Map<string, () => void>();
  /** Pending phone reactions: their timers and how to settle them when the simulator stops first. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly options: SimulatorOptions) {
    this.rootPublicKey = this.identity.rootPublicKey;
    this.pairing = new Pairing(this);
    this.wss = new WebSocketServer({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, path: '/ws/chat' });
    this.wss.on('connection', ws => {
      const connection = new SimConnection(this.nextConnectionId++, ws, this);
      this.live.add(connection);
      this.count('', +1);
    });
  }

  async listen(): Promise<void> {
    await Promise.all([once(this.wss, 'listening'), this.media.listen(this.options.host ?? '127.0.0.1')]);
    const address = this.wss.address();
    if (!address || typeof address === 'string') throw new Error('unexpected pipe address');
    this.url = `ws://${address.address}:${address.port}/ws/chat`;
  }

  // ---- public API ----

  get mediaUrl(): string { return this.media.url }

  get mediaRequests(): MediaRequestRecord[] { return this.media.requests }

  setMediaFaults(faults: MediaFault[]): void { this.media.setFaults(faults) }

  get violations(): ProtocolViolation[] {
    const appState = [...this.accounts.values()].flatMap(account => account.appState.violations);
    return [...this.ownViolations, ...appState].sort((a, b) => a.at - b.at);
  }

  createAccount(options?: { phoneNumber?: string; lid?: string; name?: string }): SimAccount {
    const record = this.registry.createAccount(options);
    const appState = new AppStateServer({
      phoneJid: `${record.phoneNumber}:0@s.whatsapp.net`,
      pageSize: this.options.appStatePageSize,
      media: this.media,
      deviceKeys: deviceJid => this.registry.device(deviceJid)?.appStateKeyIds,
      onAppend: (collection, byDevice, mutations) => {
        if (collection === 'regular_low' && mutations.some(m => m.index[0] === 'pin_v1')) this.schedulePinLimit(record.phoneNumber);
      },
    });
    for (const key of record.appStateKeys) appState.addKey(key.keyId, key.keyData, key.timestamp);
    const state: AccountState = { record, appState, phone: new PhoneSignal(record.phoneNumber, record.accountKey), sim: this.phoneControl(record.phoneNumber) };
    this.accounts.set(record.phoneNumber, state);
    return { phoneNumber: record.phoneNumber, lid: `${record.lid}@lid`, jid: `${record.phoneNumber}@s.whatsapp.net`, name: record.name };
  }

  registerNumber(phoneNumber: string, lid?: string): void { this.registry.registerNumber(phoneNumber, lid) }

  createGroup(options: { subject: string; participants: string[]; id?: string }): string { return this.registry.createGroup(options) }

  async linkDevice(phoneNumber: string, options?: { preKeys?: number; shareAppStateKey?: boolean }): Promise<LinkedDevice> {
    return linkDevice(this.registry, this.account(phoneNumber).record, options);
  }

  unlinkDevice(deviceJid: string): void {
    const device = this.registry.device(deviceJid);
    if (!device) throw new Error(`no device ${deviceJid}`);
    device.removed = true;
    for (const connection of this.connectionsOf(device.jid)) {
      connection.send({ tag: 'stream:error', attrs: { code: '401' }, content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }] });
      connection.end();
    }
  }

  phone(phoneNumber: string): SimPhone { return this.account(phoneNumber).sim }

  private phoneControl(phoneNumber: string): PhoneControl {
    const mutate = async (changes: PhoneChange[]) => this.phoneMutate(phoneNumber, changes);
    const control: PhoneControl = {
      pinLimit: 3,
      pinLimitDelayMs: PIN_LIMIT_DELAY_MS,
      pending: new Set(),
      setPinned: (chatJid, pinned) => mutate([{ action: 'pin', chatJid, value: pinned }]),
      setArchived: (chatJid, archived) => mutate([{ action: 'archive', chatJid, value: archived }]),
      mutate: changes => mutate(changes),
      rotateAppStateKey: async () => this.rotateAppStateKey(phoneNumber),
      compact: async () => this.account(phoneNumber).appState.compact('regular_low'),
      idle: async () => {
        while (control.pending.size) await Promise.all([...control.pending]);
        await this.phoneWork;
      },
    };
    return control;
  }

  /** A phone patch in regular_low, then server_sync to the account's live devices. */
  private phoneMutate(phoneNumber: string, changes: PhoneChange[]): void {
    const { record, appState } = this.account(phoneNumber);
    appState.phoneMutate(changes);
    const touched = this.phoneChats.get(record.phoneNumber) ?? new Set();
    for (const change of changes) touched.add(change.chatJid);
    this.phoneChats.set(record.phoneNumber, touched);
    this.notifyServerSync(record);
  }

  private notifyServerSync(record: AccountRecord): void {
    const version = this.account(record.phoneNumber).appState.version('regular_low');
    for (const device of record.devices.values()) {
      for (const connection of this.connectionsOf(device.jid)) {
        connection.send({ tag: 'notification', attrs: { from: SERVER_JID, type: 'server_sync', id: stanzaId(), t: unixTime() }, content: [
          { tag: 'collection', attrs: { name: 'regular_low', version: String(version) } },
        ] });
      }
    }
  }

  /** Like real phones: more pinned chats than the limit (by any device) → the phone unpins its oldest pins shortly after. */
  private schedulePinLimit(phoneNumber: string): void {
    const { sim: control, appState } = this.account(phoneNumber);
    if (control.pinLimit === undefined || appState.pinnedChats().length <= control.pinLimit) return;
    const done = new Promise<void>(resolve => {
      const timer: NodeJS.Timeout = setTimeout(() => {
        this.timers.delete(timer);
        try {
          const limit = control.pinLimit;
          const pinned = appState.pinnedChats();
          if (limit !== undefined && pinned.length > limit) {
            this.phoneMutate(phoneNumber, pinned.slice(0, pinned.length - limit).map(({ chatJid }) => ({ action: 'pin' as const, chatJid, value: false })));
          }
        } catch (error) {
          this.violation('phone-pin-limit-failed', (error as Error).message);
        }
        resolve();
      }, control.pinLimitDelayMs);
      this.timers.set(timer, resolve);
    });
    control.pending.add(done);
    void done.then(() => control.pending.delete(done));
  }

  /** A new key, newest by timestamp, shared to every linked device; the phone's later patches use it. */
  private rotateAppStateKey(phoneNumber: string): { keyId: string; timestamp: number } {
    const { record, appState } = this.account(phoneNumber);
    const key = this.registry.rotateAppStateKey(record);
    appState.addKey(key.keyId, key.keyData, key.timestamp);
    for (const device of record.devices.values()) if (!device.removed && !device.awaitingKeyShare) this.shareAppStateKey(device);
    return { keyId: key.keyId.toString('base64'), timestamp: key.timestamp };
  }

  async seedAppState(phoneNumber: string, options: SeedAppStateOptions): Promise<SeededAppState> {
    const account = this.account(phoneNumber);
    const seeded = seedAppState({
      registry: this.registry,
      record: account.record,
      appState: account.appState,
      pinLimit: account.sim.pinLimit,
      rotate: () => this.rotateAppStateKey(phoneNumber).keyId,
    }, options);
    const touched = this.phoneChats.get(account.record.phoneNumber) ?? new Set();
    for (const { chatJid } of account.appState.pinnedChats()) touched.add(chatJid);
    this.phoneChats.set(account.record.phoneNumber, touched);
    this.notifyServerSync(account.record);
    await this.phoneWork;
    return seeded;
  }

  chatState(phoneNumber: string, chatJid: string): ChatState | undefined { return this.account(phoneNumber).appState.chatState(chatJid) }

  chats(phoneNumber: string): Array<{ chatJid: string } & ChatState> {
    return this.account(phoneNumber).appState.chatList();
  }

  pinnedChats(phoneNumber: string): PinnedChat[] { return this.account(phoneNumber).appState.pinnedChats() }

  appStateInfo(phoneNumber: string, collection = 'regular_low') {
    const { appState } = this.account(phoneNumber);
    const snapshot = appState.snapshotInfo(collection);
    return { ...appState.collectionState(collection), ...(snapshot && { snapshot: { version: snapshot.version, directPath: snapshot.directPath, keyId: snapshot.keyId, reference: snapshot.ref } }) };
  }

  appStateVersion(phoneNumber: string, collection: string): number { return this.account(phoneNumber).appState.version(collection) }

  clearRecord(): void { this.record.length = 0 }

  connections(deviceJid?: string): ConnectionCounts {
    return { ...(this.stats.get(deviceJid ?? '') ?? { live: 0, maxConcurrent: 0, total: 0 }) };
  }

  dropConnections(deviceJid: string): void {
    for (const connection of this.connectionsOf(deviceJid)) connection.terminate();
  }

  setFaults(faults: Fault[], scope?: { deviceJid?: string }): void { this.faults.set(faults, scope?.deviceJid) }

  clearFaults(): void {
    this.faults.clear();
    this.media.clearFaults();
  }

  /** What the control endpoint shows: accounts, devices, connections, faults, violations. */
  snapshot() {
    return {
      url: this.url,
      rootPublicKey: Buffer.from(this.rootPublicKey).toString('base64'),
      accounts: [...this.registry.accounts.values()].map(account => ({
        phoneNumber: account.phoneNumber,
        lid: `${account.lid}@lid`,
        name: account.name,
        appStateVersion: this.appStateVersion(account.phoneNumber, 'regular_low'),
        appStateKeys: appStateKeyShareOrder(account).map(key => ({ keyId: key.keyId.toString('base64'), timestamp: key.timestamp })),
        pinnedChats: this.pinnedChats(account.phoneNumber),
        devices: [...account.devices.values()].map(device => ({
          jid: device.jid, removed: device.removed, preKeys: device.preKeys.size, queued: device.offline.length, connections: this.connections(device.jid),
          appStateKeys: [...device.appStateKeyIds], offlineQueue: this.offlineQueue(device.jid),
        })),
      })),
      contacts: [...this.registry.contacts.keys()],
      groups: [...this.registry.groups.values()],
      connections: this.connections(),
      mediaUrl: this.mediaUrl,
      faults: { ...this.faults.snapshot(), media: this.media.faultSnapshot() },
      violations: this.violations,
      recordLength: this.record.length,
    };
  }

  /** Chats the phone touched itself (the server cannot list chats from devices' patches without their key). */
  readonly phoneChats = new Map<string, Set<string>>();

  queueOfflineMessages(deviceJid: string, count: number): void {
    const device = this.registry.device(deviceJid);
    if (!device || device.removed) throw new Error(`no linked device ${deviceJid}`);
    for (let i = 0; i < count; i++) this.queuePhoneMessage(device, textMessage(`offline message ${i + 1} of ${count}`));
  }

  async queueContactMessages(deviceJid: string, options: { senders: number; messages: number; appStateKeyShareAt?: number }): Promise<{ senders: string[] }> {
    const device = this.registry.device(deviceJid);
    if (!device || device.removed) throw new Error(`no linked device ${deviceJid}`);
    const senders = Math.max(1, Math.floor(options.senders));
    const numbers = Array.from({ length: senders }, (_, i) => this.contactNumber(i));
    const address = { user: device.phoneNumber, device: device.device };
    for (let i = 0; i < options.messages; i++) {
      if (options.appStateKeyShareAt === i) this.shareAppStateKey(device, { deliverNow: false });
      const sender = numbers[i % senders];
      const text = `message ${i + 1} of ${options.messages} from ${sender}`;
      this.phoneWork = this.phoneWork.then(async () => {
        const phone = this.contactPhone(sender);
        const fresh = !phone.hasSession(address);
        const bundle = fresh ? takePreKeyBundle(device) : undefined;
        const enc = await phone.encryptFor(address, bundle, textMessage(text));
        if (bundle?.preKey) this.notifyPreKeyLow(device);
        // a contact the device has talked to before: after the first (pkmsg), plain msg
        if (fresh) phone.acknowledgeSession(address);
        this.enqueue(device, messageNode({ from: `${sender}@s.whatsapp.net`, id: stanzaId(), t: Math.floor(Date.now() / 1000), enc }));
      }).catch(error => this.violation('contact-encrypt-failed', (error as Error).message, device.jid));
    }
    if (options.appStateKeyShareAt !== undefined && options.appStateKeyShareAt >= options.messages) this.shareAppStateKey(device, { deliverNow: false });
    await this.phoneWork;
    return { senders: numbers.map(number => `${number}@s.whatsapp.net`) };
  }

  offlineQueue(deviceJid: string): OfflineQueueStats {
    const device = this.registry.device(deviceJid);
    if (!device) throw new Error(`no device ${deviceJid}`);
    const { queued: total, delivered, receipted, retryReceipts, acks, receiptTypes } = device.inbox;
    return { queued: device.offline.length, total, delivered, receipted, retryReceipts, acks, receiptTypes: { ...receiptTypes } };
  }

  /** Contact numbers for queued messages: 1555 9 + 6 digits, registered on WhatsApp with a LID. */
  private contactNumber(i: number): string {
    const number = `15559${String(i + 1).padStart(6, '0')}`;
    if (!this.registry.contacts.get(number)) this.registry.registerNumber(number, `2${number}`);
    return number;
  }

  private contactPhone(number: string): PhoneSignal {
    let phone = this.contactPhones.get(number);
    if (!phone) this.contactPhones.set(number, (phone = new PhoneSignal(number)));
    return phone;
  }

  beforeNextPatch(phoneNumber: string, action: () => void | Promise<void>): void { this.account(phoneNumber).appState.beforeNextUpload(action) }

  scanQr(qr: string, phoneNumber: string): Promise<void> { return this.pairing.scanQr(qr, this.account(phoneNumber).record) }

  enterPairingCode(phoneNumber: string, code: string): Promise<void> { return this.pairing.enterPairingCode(this.account(phoneNumber).record, code) }

  private stopped?: Promise<void>;

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    for (const [timer, settle] of this.timers) {
      clearTimeout(timer);
      settle();
    }
    this.timers.clear();
    for (const connection of this.live) connection.terminate();
    await this.media.close();
    await new Promise<void>((resolve, reject) => this.wss.close(error => (error ? reject(error) : resolve())));
  }

  // ---- used by connections and pairing ----

  account(phoneNumberOrJid: string): AccountState {
    const state = this.accounts.get(this.registry.account(phoneNumberOrJid).phoneNumber);
    if (!state) throw new Error(`no simulated account ${phoneNumberOrJid}`);
    return state;
  }

  violation(kind: string, detail: string, deviceJid?: string): void {
    this.ownViolations.push({ at: Date.now(), deviceJid, kind, detail });
  }

  connectionsOf(deviceJid: string): SimConnection[] {
    return [...this.live].filter(connection => connection.deviceJid === deviceJid && !connection.closed);
  }

  latencyMs(deviceJid?: string): number { return this.faults.latencyMs(deviceJid, this.options.latencyMs ?? 0) }

  refuseHandshake(): boolean { return this.faults.has('refuse-handshake') }

  onRecord(connection: SimConnection, direction: 'in' | 'out', node: BinaryNode): void {
    const { xmlns, type, id } = node.attrs;
    this.record.push({ connectionId: connection.id, deviceJid: connection.deviceJid, direction, tag: node.tag, xmlns, type, id, at: performance.now() });
  }

  onClose(connection: SimConnection): void {
    if (!this.live.delete(connection)) return;
    this.count('', -1);
    if (connection.deviceJid && !this.replaced.delete(connection)) this.count(connection.deviceJid, -1);
    this.pairing.forget(connection);
  }

  onError(connection: SimConnection, error: Error): void {
    this.violation('connection-error', error.message, connection.deviceJid);
  }

  async onPayload(connection: SimConnection, payload: proto.ClientPayload): Promise<void> {
    if (payload.username === null || payload.username === undefined) return this.pairing.start(connection, payload);
    const jid = `${payload.username}:${payload.device ?? 0}@s.whatsapp.net`;
    const device = this.registry.device(jid);
    const refusal = !device ? 'unknown device'
      : device.removed ? 'device removed'
      : !connection.clientStatic?.equals(device.noisePublic) ? 'noise key does not match the linked device'
      : this.faults.has('logged-out', jid) ? 'logged-out fault'
      : undefined;
    if (refusal || !device) {
      connection.send({ tag: 'failure', attrs: { reason: '401', location: 'sim' } });
      return connection.end();
    }
    for (const older of this.connectionsOf(device.jid)) {
      older.send({ tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] });
      older.end();
      // As for the real server, a replaced connection stops being live at once, not when its socket finishes closing.
      this.count(device.jid, -1);
      this.replaced.add(older);
    }
    connection.device = device;
    this.count(device.jid, +1);
    connection.send({ tag: 'success', attrs: { t: unixTime(), props: '1', location: 'sim', lid: device.lidJid, creation: unixTime() } });
  }

  async onStanza(connection: SimConnection, node: BinaryNode): Promise<void> {
    const device = connection.device;
    const fault = this.faults.forStanza(node, device?.jid);
    if (fault?.kind === 'drop-on') return connection.terminate();
    if (fault?.kind === 'ignore') return;
    if (node.tag === 'iq' && (node.attrs.type === 'get' || node.attrs.type === 'set')) {
      if (fault?.kind === 'iq-error') return connection.send(errorReply(node, fault.code, fault.text));
      if (!device) return connection.send(this.answerPairingIq(connection, node));
      connection.send(await this.answerIq(device, node));
      if (node.attrs.xmlns === 'passive' && getBinaryNodeChild(node, 'active')) this.deliverOffline(connection, device);
      return;
    }
    if (node.tag === 'iq') return this.pairing.onIqResult(connection, node);
    if (!device) return;
    if (node.tag === 'receipt') return this.onReceipt(connection, device, node);
    if (node.tag === 'ack' && node.attrs.class === 'message') return this.dropQueued(device, new Set([node.attrs.id]), { ack: true });
    if (node.tag === 'message') {
      connection.send({ tag: 'ack', attrs: { class: 'message', id: node.attrs.id, from: node.attrs.to ?? SERVER_JID, t: unixTime() } });
    }
    // presence, ib (unified_session, offline_batch), ack, chatstate, notification acks: nothing to answer
  }

  // ---- IQs ----

  /** Before login only the pairing-code exchange may query. */
  private answerPairingIq(connection: SimConnection, iq: BinaryNode): BinaryNode {
    const stage = getBinaryNodeChild(iq, 'link_code_companion_reg')?.attrs.stage;
    try {
      if (iq.attrs.xmlns === 'md' && stage === 'companion_hello') return this.pairing.onCompanionHello(connection, iq);
      if (iq.attrs.xmlns === 'md' && stage === 'companion_finish') return this.pairing.onCompanionFinish(connection, iq);
    } catch (error) {
      if (error instanceof QueryError) return errorReply(iq, error.code, error.text);
      this.violation('pairing-rejected', (error as Error).message);
      return errorReply(iq, 400, 'bad-request');
    }
    return errorReply(iq, 401, 'not-authorized');
  }

  private async answerIq(device: DeviceRecord, iq: BinaryNode): Promise<BinaryNode> {
    const child = Array.isArray(iq.content) ? iq.content[0] : undefined;
    const { xmlns, type } = iq.attrs;
    try {
      if (xmlns === 'encrypt' && type === 'get' && child?.tag === 'count') return result(iq, [{ tag: 'count', attrs: { value: String(device.preKeys.size) } }]);
      if (xmlns === 'encrypt' && type === 'get' && child?.tag === 'digest') return result(iq, [digestNode(device)]);
      if (xmlns === 'encrypt' && type === 'set' && child?.tag === 'rotate') {
        rotateSignedPreKey(device, child);
        return result(iq);
      }
      if (xmlns === 'encrypt' && type === 'set' && getBinaryNodeChild(iq, 'list')) {
        acceptPreKeyUpload(device, iq);
        this.pairing.afterPreKeyUpload(device);
        return result(iq);
      }
      if (xmlns === 'usync' && child?.tag === 'usync') return result(iq, [answerUsync(this.registry, child)]);
      if (xmlns === 'w:g2' && child?.tag === 'query' && iq.attrs.to?.endsWith('@g.us')) {
        return result(iq, [answerGroupQuery(this.registry, this.account(device.phoneNumber).record, iq.attrs.to)]);
      }
      if (xmlns === 'w:g2' && child?.tag === 'participating') return result(iq, [answerParticipating(this.registry, this.account(device.phoneNumber).record)]);
      if (xmlns === 'w:sync:app:state' && child?.tag === 'sync') {
        return result(iq, [await this.account(device.phoneNumber).appState.handleSync(child, device.jid)]);
      }
      if (xmlns === 'md' && child?.tag === 'remove-companion-device') {
        const removed = this.registry.device(child.attrs.jid ?? '');
        if (removed?.phoneNumber !== device.phoneNumber) return errorReply(iq, 404, 'item-not-found');
        setImmediate(() => this.unlinkDevice(removed.jid));
        return result(iq);
      }
      return result(iq); // w:p ping and everything else: a well-formed empty result
    } catch (error) {
      if (error instanceof QueryError) return errorReply(iq, error.code, error.text);
      if (error instanceof InvalidKeyBundle) {
        this.violation('invalid-key-bundle', error.message, device.jid);
        return errorReply(iq, 406, 'not-acceptable');
      }
      this.violation('iq-failed', `${xmlns}/${child?.tag}: ${(error as Error).message}`, device.jid);
      return errorReply(iq, 500, 'internal-server-error');
    }
  }

  // ---- messages from the phone ----

  /** Signal-encrypts a message from the account's phone to the device and keeps it until the device receipts it. */
  queuePhoneMessage(device: DeviceRecord, plaintext: Uint8Array, options: { deliverNow?: boolean; onReceipt?: () => void } = {}): void {
    const { phone } = this.account(device.phoneNumber);
    this.phoneWork = this.phoneWork.then(async () => {
      const address = { user: device.phoneNumber, device: device.device };
      const bundle = phone.hasSession(address) ? undefined : takePreKeyBundle(device);
      const enc = await phone.encryptFor(address, bundle, plaintext);
      const message = messageNode({ from: `${device.phoneNumber}@s.whatsapp.net`, id: stanzaId(), t: Math.floor(Date.now() / 1000), enc, category: 'peer' });
      this.enqueue(device, message, options.onReceipt);
      if (bundle?.preKey) this.notifyPreKeyLow(device);
      if (options.deliverNow) {
        for (const connection of this.connectionsOf(device.jid)) {
          device.inbox.delivered++;
          connection.send(message);
        }
      }
    }).catch(error => this.violation('phone-encrypt-failed', (error as Error).message, device.jid));
  }

  private enqueue(device: DeviceRecord, message: BinaryNode, onReceipt?: () => void): void {
    device.offline.push(message);
    device.inbox.queued++;
    if (onReceipt) this.onReceipted.set(message.attrs.id, onReceipt);
  }

  /** The phone shares every app-state key of the account in one message, the newest first (so not last, when there are several). */
  shareAppStateKey(device: DeviceRecord, options: { deliverNow?: boolean } = {}): void {
    const keys = appStateKeyShareOrder(this.account(device.phoneNumber).record);
    const fingerprint = { rawId: device.device, currentIndex: 0, deviceIndexes: [0, device.device] };
    this.queuePhoneMessage(device, buildKeyShareMessage(keys.map(({ keyId, keyData, timestamp }) => ({ keyId, keyData, timestamp, fingerprint }))), {
      deliverNow: options.deliverNow ?? true,
      onReceipt: () => { for (const key of keys) device.appStateKeyIds.add(key.keyId.toString('base64')) },
    });
  }

  private deliverOffline(connection: SimConnection, device: DeviceRecord): void {
    void this.phoneWork.then(() => {
      const queued = device.offline.length;
      for (const message of device.offline) {
        device.inbox.delivered++;
        connection.send({ ...message, attrs: { ...message.attrs, offline: '1' } });
      }
      connection.send({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: String(queued) } }] });
    });
  }

  private notifyPreKeyLow(device: DeviceRecord): void {
    if (device.preKeys.size > PRE_KEY_LOW) return;
    for (const connection of this.connectionsOf(device.jid)) {
      connection.send({ tag: 'notification', attrs: { from: SERVER_JID, type: 'encrypt', id: stanzaId(), t: unixTime() }, content: [
        { tag: 'count', attrs: { value: String(device.preKeys.size) } },
      ] });
    }
  }

  /** A receipt or a message ack for queued messages: counted, and the messages are gone for good. */
  private dropQueued(device: DeviceRecord, ids: Set<string>, kind: { receipt?: string; ack?: boolean }): void {
    const dropped = device.offline.filter(message => ids.has(message.attrs.id));
    if (!dropped.length) return;
    device.offline = device.offline.filter(message => !ids.has(message.attrs.id));
    for (const message of dropped) {
      if (kind.ack) device.inbox.acks++;
      else {
        device.inbox.receiptTypes[kind.receipt ?? ''] = (device.inbox.receiptTypes[kind.receipt ?? ''] ?? 0) + 1;
        if (kind.receipt === 'retry') device.inbox.retryReceipts++;
      }
      if (kind.receipt !== 'retry') device.inbox.receipted++;
      const then = this.onReceipted.get(message.attrs.id);
      this.onReceipted.delete(message.attrs.id);
      if (then && kind.receipt !== 'retry' && !kind.ack) then();
    }
  }

  private onReceipt(connection: SimConnection, device: DeviceRecord, receipt: BinaryNode): void {
    const ids = new Set([receipt.attrs.id, ...getBinaryNodeChildren(getBinaryNodeChild(receipt, 'list'), 'item').map(item => item.attrs.id)]);
    this.dropQueued(device, ids, { receipt: receipt.attrs.type });
    connection.send({ tag: 'ack', attrs: { class: 'receipt', id: receipt.attrs.id, from: receipt.attrs.to ?? SERVER_JID, ...(receipt.attrs.type && { type: receipt.attrs.type }) } });
  }

  private count(key: string, delta: number): void {
    const counts = this.stats.get(key) ?? { live: 0, maxConcurrent: 0, total: 0 };
    counts.live += delta;
    if (delta > 0) counts.total += delta;
    counts.maxConcurrent = Math.max(counts.maxConcurrent, counts.live);
    this.stats.set(key, counts);
  }
}

export type { SimServer };

/** The control view of a simulator started by startSimulator. */
export function simulatorSnapshot(sim: Simulator): ReturnType<SimServer['snapshot']> {
  if (!(sim instanceof SimServer)) throw new Error('not a simulator started by startSimulator');
  return sim.snapshot();
}

export function phoneChats(sim: Simulator, phoneNumber: string): string[] {
  if (!(sim instanceof SimServer)) throw new Error('not a simulator started by startSimulator');
  return [...(sim.phoneChats.get(sim.account(phoneNumber).record.phoneNumber) ?? [])];
}

export function result(iq: BinaryNode, content?: BinaryNode[]): BinaryNode {
  return { tag: 'iq', attrs: { from: iq.attrs.to ?? SERVER_JID, type: 'result', id: iq.attrs.id }, ...(content && { content }) };
}

export function errorReply(iq: BinaryNode, code: number, text: string): BinaryNode {
  return { tag: 'iq', attrs: { from: iq.attrs.to ?? SERVER_JID, type: 'error', id: iq.attrs.id }, content: [{ tag: 'error', attrs: { code: String(code), text } }] };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const server = new SimServer(options);
  await server.listen();
  return server;
}
