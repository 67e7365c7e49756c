/**
 * A local WhatsApp server that speaks the real protocol (Noise XX, binary stanzas, app-state sync) to Baileys.
 * Test and local-runner code only: never imported by the Lambda code path.
 */
import type { AuthenticationCreds, SignalDataTypeMap } from '@whiskeysockets/baileys';

export { startSimulator } from './simulator.js';

/** autoScan is accepted but has no effect: the QR carries the companion's adv secret, which never reaches the server,
 *  so the phone can only scan a QR handed to scanQr (or POST /phone/scan). */
export interface SimulatorOptions {
  host?: string /* 127.0.0.1 */; port?: number /* 0 = random */; latencyMs?: number; autoScan?: boolean;
  /** patches per app-state sync answer before has_more_patches (default 50) */
  appStatePageSize?: number;
}

export interface SimAccount { phoneNumber: string; lid: string; jid: string; name: string }

export interface ChatState { pinned: boolean; pinnedAt?: number; byDevice?: string; archived?: boolean; read?: boolean }

/** A pinned chat of the account as the server's app state has it (pinnedAt = the pin mutation's timestamp, ms). */
export interface PinnedChat { chatJid: string; pinnedAt: number }

/** A change the phone makes; `mutate` puts several in one patch (external mutations beyond 100). */
export interface PhoneChange { action: 'pin' | 'archive' | 'markRead'; chatJid: string; value: boolean }

export interface SeedAppStateOptions {
  /** index entries in the snapshot = distinct chats with app state (one record each: archive, markChatAsRead or pin_v1) */
  entries: number;
  /** chats pinned in the snapshot, in this order, with increasing timestamps (they count towards `entries`) */
  pinned?: string[];
  /** default true: the snapshot is under the account's older key; the phone then rotates and later patches use the new one */
  keyRotation?: boolean;
  /** patches after the snapshot (default 20), some with several mutations */
  laterPatches?: number;
  /** chats the phone pins in those later patches, in order, after every snapshot pin */
  laterPinned?: string[];
  /** the snapshot's version (default 33, a value seen on a real account) */
  snapshotVersion?: number;
  /** groups the account is in among the chats (default min(5, entries / 20)) */
  groups?: number;
}

export interface SeededAppState {
  /** every chat with app state, seeded ones first (individual chats are registered on WhatsApp, groups exist with the account in them) */
  chats: string[];
  groups: string[];
  snapshotVersion: number;
  version: number;
  /** base64 key ids: the snapshot's and (with keyRotation) the newer one the later patches use */
  snapshotKeyId: string;
  currentKeyId: string;
  /** ms spent building it */
  elapsedMs: number;
}

/** What became of the messages queued for a device (contacts' and its own phone's). */
export interface OfflineQueueStats {
  /** still waiting for the device (re-sent at every login until receipted or acked) */
  queued: number;
  /** ever queued */
  total: number;
  /** stanzas sent, redeliveries included */
  delivered: number;
  /** dropped because the device receipted (any receipt type but retry) or acked them */
  receipted: number;
  /** <receipt type="retry">: the device could not decrypt */
  retryReceipts: number;
  /** <ack class="message"> for a queued message */
  acks: number;
  /** every receipt for a queued message by its type ('' = none) */
  receiptTypes: Record<string, number>;
}

/** A request the media host answered. */
export interface MediaRequestRecord { path: string; status: number; at: number }

/** Faults of the media host, per blob (directPath, query ignored) or global; `times` = how many requests (default: all). */
export type MediaFault =
  | { kind: 'http-status'; status: number; directPath?: string; times?: number }   // e.g. 500 or 404 instead of the blob
  | { kind: 'corrupt'; directPath?: string; times?: number }                       // one byte of the file flipped (the MAC fails)
  | { kind: 'delay'; ms: number; directPath?: string; times?: number };            // answer after ms

export interface ProtocolViolation { at: number; deviceJid?: string; kind: string; detail: string }

export interface StanzaRecord {
  connectionId: number;
  deviceJid?: string;
  direction: 'in' | 'out';
  tag: string;
  xmlns?: string;
  type?: string;
  id?: string;
  at: number; // ms, performance.now based
}

export type LinkedDeviceKeys = { [T in keyof SignalDataTypeMap]?: { [id: string]: SignalDataTypeMap[T] } };

export interface LinkedDevice { deviceJid: string; creds: AuthenticationCreds; keys: LinkedDeviceKeys }

export interface ConnectionCounts { live: number; maxConcurrent: number; total: number }

export interface Simulator {
  url: string;                       // ws://127.0.0.1:PORT/ws/chat
  /** http://127.0.0.1:PORT: the media host; a blob is at `${mediaUrl}${directPath}` (the real one: https://mmg.whatsapp.net) */
  mediaUrl: string;
  rootPublicKey: Uint8Array;         // 32 bytes; clients set Baileys' WA_CERT_DETAILS.PUBLIC_KEY to it (tests/local runner only)
  createAccount(options?: { phoneNumber?: string; lid?: string; name?: string }): SimAccount;
  registerNumber(phoneNumber: string, lid?: string): void;
  createGroup(options: { subject: string; participants: string[]; id?: string }): string;
  /** A ready linked companion device, as if paired earlier: creds and the keys Baileys would have stored. */
  linkDevice(phoneNumber: string, options?: { preKeys?: number; shareAppStateKey?: boolean }): Promise<LinkedDevice>;
  /** The phone removed it: the next login gets <failure reason="401">; a live connection gets stream error 401. */
  unlinkDevice(deviceJid: string): void;
  phone(phoneNumber: string): SimPhone;
  chatState(phoneNumber: string, chatJid: string): ChatState | undefined;
  /** Every chat of the account with app state (pinned, unpinned or archived, by the phone or a device), in order of first change. */
  chats(phoneNumber: string): Array<{ chatJid: string } & ChatState>;
  /** The account's pinned chats, oldest pin first. */
  pinnedChats(phoneNumber: string): PinnedChat[];
  appStateVersion(phoneNumber: string, collection: string): number;
  /** The server's LT hash (128 bytes) and entry count of a collection, and its latest snapshot if compacted. */
  appStateInfo(phoneNumber: string, collection?: string): {
    version: number; hash: Buffer; entries: number;
    /** reference = the ExternalBlobReference bytes a client gets in <snapshot> */
    snapshot?: { version: number; directPath: string; keyId: string; reference: Uint8Array };
  };
  /** A realistic regular_low history for the account (snapshot on the media host, later patches, key rotation). Only on an account with an empty regular_low. */
  seedAppState(phoneNumber: string, options: SeedAppStateOptions): Promise<SeededAppState>;
  violations: ProtocolViolation[];
  record: StanzaRecord[];
  clearRecord(): void;
  connections(deviceJid?: string): ConnectionCounts;
  /** Closes the device's live connections from the server's side without a stream error, as when one idled out. */
  dropConnections(deviceJid: string): void;
  setFaults(faults: Fault[], scope?: { deviceJid?: string }): void;
  clearFaults(): void;
  /** Text messages from the account's phone, Signal-encrypted now, delivered at the next login, dropped on receipt. */
  queueOfflineMessages(deviceJid: string, count: number): void;
  /**
   * Text messages from other accounts' phones (`senders` contacts, registered on WhatsApp with a LID), Signal-encrypted to
   * the device now (pkmsg for each sender's first message, msg after), interleaved, delivered at the next login, dropped on
   * receipt. `appStateKeyShareAt`: the account's phone also queues a share of every app-state key after that many messages.
   */
  queueContactMessages(deviceJid: string, options: { senders: number; messages: number; appStateKeyShareAt?: number }): Promise<{ senders: string[] }>;
  /** The device's offline queue and what it answered. */
  offlineQueue(deviceJid: string): OfflineQueueStats;
  /** Media host faults (replace the current ones); clearFaults clears them too. */
  setMediaFaults(faults: MediaFault[]): void;
  mediaRequests: MediaRequestRecord[];
  /** Race injection: run `action` right before the next patch upload of that account is processed. */
  beforeNextPatch(phoneNumber: string, action: () => void | Promise<void>): void;
  scanQr(qr: string, phoneNumber: string): Promise<void>;
  enterPairingCode?(phoneNumber: string, code: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SimPhone {
  setPinned(chatJid: string, pinned: boolean): Promise<void>;
  setArchived(chatJid: string, archived: boolean): Promise<void>;
  /** One patch with every change (external mutations when more than 100); live devices get server_sync. */
  mutate(changes: PhoneChange[]): Promise<void>;
  /** A new app-state key with a later timestamp, shared to every linked device (newest first in the share, older keys after it); later phone patches use it. */
  rotateAppStateKey(): Promise<{ keyId: string; timestamp: number }>;
  /** Compacts regular_low into a snapshot at the current version on the media host (older patches dropped). */
  compact(): Promise<{ version: number; directPath: string }>;
  /** Like real phones: with more pinned chats than this (pinned by any device), the phone unpins its oldest pins with its own
   *  patch `pinLimitDelayMs` later and sends server_sync. Default 3; undefined disables. */
  pinLimit: number | undefined;
  /** default 100 */
  pinLimitDelayMs: number;
  /** Resolves once the phone has no reaction pending (e.g. a pin-limit unpin). */
  idle(): Promise<void>;
}

export type Fault =
  | { kind: 'latency'; ms: number }                              // delay every frame both ways
  | { kind: 'refuse-handshake' }                                 // close the socket on the client hello (global scope only)
  | { kind: 'logged-out' }                                       // <failure reason="401"> at login
  | { kind: 'drop-on'; match: StanzaMatch }                      // close the connection when a matching stanza arrives
  | { kind: 'ignore'; match: StanzaMatch }                       // never answer (nor process) a matching stanza
  | { kind: 'iq-error'; match: StanzaMatch; code: number; text: string };  // answer a matching IQ with a top-level <error>

/** child = first child tag, e.g. 'sync', 'count', 'digest', 'usync' */
export interface StanzaMatch { tag?: string; xmlns?: string; type?: string; child?: string }
