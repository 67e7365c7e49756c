/**
 * A local WhatsApp server that speaks the real protocol (Noise XX, binary stanzas, app-state sync) to Baileys.
 * Test and local-runner code only: never imported by the Lambda code path.
 */
import type { AuthenticationCreds, SignalDataTypeMap } from '@whiskeysockets/baileys';

export { startSimulator } from './simulator.js';

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
  url: string;
  rootPublicKey: Uint8Array;
  createAccount(options?: { phoneNumber?: string; lid?: string; name?: string }): SimAccount;
  registerNumber(phoneNumber: string, lid?: string): void;
  createGroup(options: { subject: string; participants: string[]; id?: string }): string;
  linkDevice(phoneNumber: string, options?: { preKeys?: number; shareAppStateKey?: boolean }): Promise<LinkedDevice>;
  unlinkDevice(deviceJid: string): void;
  phone(phoneNumber: string): SimPhone;
  chatState(phoneNumber: string, chatJid: string): ChatState | undefined;
  appStateVersion(phoneNumber: string, collection: string): number;
  violations: ProtocolViolation[];
  record: StanzaRecord[];
  clearRecord(): void;
  connections(deviceJid?: string): ConnectionCounts;
  setFaults(faults: Fault[], scope?: { deviceJid?: string }): void;
  clearFaults(): void;
  queueOfflineMessages(deviceJid: string, count: number): void;
  beforeNextPatch(phoneNumber: string, action: () => void | Promise<void>): void;
  scanQr(qr: string, phoneNumber: string): Promise<void>;
  enterPairingCode?(phoneNumber: string, code: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SimPhone { setPinned(chatJid: string, pinned: boolean): Promise<void>; setArchived(chatJid: string, archived: boolean): Promise<void> }

export type Fault =
  | { kind: 'latency'; ms: number }
  | { kind: 'refuse-handshake' }
  | { kind: 'logged-out' }
  | { kind: 'drop-on'; match: StanzaMatch }
  | { kind: 'ignore'; match: StanzaMatch }
  | { kind: 'iq-error'; match: StanzaMatch; code: number; text: string };

export interface StanzaMatch { tag?: string; xmlns?: string; type?: string; child?: string }
