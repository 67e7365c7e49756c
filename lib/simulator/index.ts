/**
 * A local WhatsApp server that speaks the real protocol (Noise XX, binary stanzas, app-state sync) to Baileys.
 * Test and local-runner code only: never imported by the Lambda code path.
 */
import type { AuthenticationCreds, SignalDataTypeMap } from '@whiskeysockets/baileys';

export { startSimulator } from './simulator.js';

/** autoScan is accepted but has no effect: the QR carries the companion's adv secret, which never reaches the server,
 *  so the phone can only scan a QR handed to scanQr (or POST /phone/scan). */
export interface SimulatorOptions { host?: string /* 127.0.0.1 */; port?: number /* 0 = random */; latencyMs?: number; autoScan?: boolean }

export interface SimAccount { phoneNumber: string; lid: string; jid: string; name: string }

export interface ChatState { pinned: boolean; pinnedAt?: number; byDevice?: string; archived?: boolean }

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
  appStateVersion(phoneNumber: string, collection: string): number;
  violations: ProtocolViolation[];
  record: StanzaRecord[];
  clearRecord(): void;
  connections(deviceJid?: string): ConnectionCounts;
  setFaults(faults: Fault[], scope?: { deviceJid?: string }): void;
  clearFaults(): void;
  /** Text messages from the account's phone, Signal-encrypted now, delivered at the next login, dropped on receipt. */
  queueOfflineMessages(deviceJid: string, count: number): void;
  /** Race injection: run `action` right before the next patch upload of that account is processed. */
  beforeNextPatch(phoneNumber: string, action: () => void | Promise<void>): void;
  scanQr(qr: string, phoneNumber: string): Promise<void>;
  enterPairingCode?(phoneNumber: string, code: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SimPhone { setPinned(chatJid: string, pinned: boolean): Promise<void>; setArchived(chatJid: string, archived: boolean): Promise<void> }

export type Fault =
  | { kind: 'latency'; ms: number }                              // delay every frame both ways
  | { kind: 'refuse-handshake' }                                 // close the socket on the client hello (global scope only)
  | { kind: 'logged-out' }                                       // <failure reason="401"> at login
  | { kind: 'drop-on'; match: StanzaMatch }                      // close the connection when a matching stanza arrives
  | { kind: 'ignore'; match: StanzaMatch }                       // never answer (nor process) a matching stanza
  | { kind: 'iq-error'; match: StanzaMatch; code: number; text: string };  // answer a matching IQ with a top-level <error>

/** child = first child tag, e.g. 'sync', 'count', 'digest', 'usync' */
export interface StanzaMatch { tag?: string; xmlns?: string; type?: string; child?: string }
