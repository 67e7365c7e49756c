/** Simulated accounts, their linked devices, contacts "on WhatsApp" and groups. */
import { randomBytes, randomInt } from 'node:crypto';
import type { BinaryNode } from '@whiskeysockets/baileys';
import { generateKeyPair, type KeyPair } from './curve25519.js';

export interface SignedPreKeyRecord { keyId: number; publicKey: Buffer; signature: Buffer }

export interface DeviceRecord {
  jid: string;                 // <phone>:<device>@s.whatsapp.net
  lidJid: string;              // <lid>:<device>@lid
  phoneNumber: string;
  device: number;
  noisePublic: Buffer;
  identityPublic: Buffer;
  registrationId: number;
  signedPreKey: SignedPreKeyRecord;
  preKeys: Map<number, Buffer>;
  platform: string;
  removed: boolean;
  offline: BinaryNode[];       // stanzas waiting for the next login, dropped on their receipt
  awaitingKeyShare?: boolean;  // freshly paired: the phone shares the app-state key once pre-keys are uploaded
  /** base64 ids of the app-state keys the device holds (given at linking, or shared and receipted) */
  appStateKeyIds: Set<string>;
  /** what happened to the messages queued for it (contacts' and the phone's) */
  inbox: InboxStats;
}

export interface InboxStats {
  queued: number;                 // ever queued
  delivered: number;              // stanzas sent (a redelivery counts again)
  receipted: number;              // dropped on a receipt (any type but retry) or an ack
  retryReceipts: number;          // <receipt type="retry"> (the device could not decrypt)
  acks: number;                   // <ack class="message"> for a queued message (error or not)
  receiptTypes: Record<string, number>;  // receipts by type ('' = no type attribute)
}

export interface AppStateKey { keyId: Buffer; keyData: Buffer; timestamp: number }

export interface AccountRecord {
  phoneNumber: string;
  lid: string;                 // user part only
  name: string;
  /** the newest app-state key (what the phone encrypts with) */
  appStateKey: AppStateKey;
  /** every app-state key of the account, oldest first (the phone rotates: a new one is appended) */
  appStateKeys: AppStateKey[];
  accountKey: KeyPair;         // the primary's ADV account signature key
  devices: Map<number, DeviceRecord>;
  nextDevice: number;
}

export interface GroupRecord { jid: string; subject: string; participants: string[]; creator: string; creation: number }

export const S_WHATSAPP_NET = 's.whatsapp.net';
export const userOf = (jidOrNumber: string) => jidOrNumber.replace(/^\+/, '').split('@')[0].split(':')[0];
export const pnJid = (jidOrNumber: string) => `${userOf(jidOrNumber)}@${S_WHATSAPP_NET}`;

export class Registry {
  readonly accounts = new Map<string, AccountRecord>();
  readonly contacts = new Map<string, string | undefined>(); // phone number → lid user
  readonly groups = new Map<string, GroupRecord>();
  private nextNumber = 15550000001;

  createAccount(options: { phoneNumber?: string; lid?: string; name?: string } = {}): AccountRecord {
    const phoneNumber = options.phoneNumber ? userOf(options.phoneNumber) : String(this.nextNumber++);
    if (this.accounts.has(phoneNumber)) throw new Error(`account ${phoneNumber} exists`);
    const appStateKey = { keyId: randomBytes(6), keyData: randomBytes(32), timestamp: Date.now() };
    const account: AccountRecord = {
      phoneNumber,
      lid: options.lid ? userOf(options.lid) : String(randomInt(10 ** 13, 10 ** 14 - 1)) + String(randomInt(0, 10)),
      name: options.name ?? `Sim ${phoneNumber.slice(-4)}`,
      appStateKey,
      appStateKeys: [appStateKey],
      accountKey: generateKeyPair(),
      devices: new Map(),
      nextDevice: 1,
    };
    this.accounts.set(phoneNumber, account);
    this.contacts.set(phoneNumber, account.lid);
    return account;
  }

  account(phoneNumberOrJid: string): AccountRecord {
    const account = this.accounts.get(userOf(phoneNumberOrJid));
    if (!account) throw new Error(`no simulated account ${phoneNumberOrJid}`);
    return account;
  }

  accountByLid(lidUser: string): AccountRecord | undefined {
    return [...this.accounts.values()].find(account => account.lid === lidUser);
  }

  /** A device by its jid (`<phone>:<n>@s.whatsapp.net` or `<lid>:<n>@lid`), removed ones included. */
  device(deviceJid: string): DeviceRecord | undefined {
    const [user, server] = deviceJid.split('@');
    const [number, device] = user.split(':');
    const account = server === 'lid' ? this.accountByLid(number) : this.accounts.get(number);
    return account?.devices.get(Number(device ?? 0));
  }

  addDevice(account: AccountRecord, fields: Omit<DeviceRecord, 'jid' | 'lidJid' | 'phoneNumber' | 'device' | 'removed' | 'offline' | 'appStateKeyIds' | 'inbox'>): DeviceRecord {
    const device = account.nextDevice++;
    const record: DeviceRecord = {
      ...fields,
      jid: `${account.phoneNumber}:${device}@${S_WHATSAPP_NET}`,
      lidJid: `${account.lid}:${device}@lid`,
      phoneNumber: account.phoneNumber,
      device,
      removed: false,
      offline: [],
      appStateKeyIds: new Set(),
      inbox: { queued: 0, delivered: 0, receipted: 0, retryReceipts: 0, acks: 0, receiptTypes: {} },
    };
    account.devices.set(device, record);
    return record;
  }

  /** A new app-state key with a later timestamp than every other key of the account; it becomes the newest. */
  rotateAppStateKey(account: AccountRecord, now = Date.now()): AppStateKey {
    const timestamp = Math.max(now, ...account.appStateKeys.map(key => key.timestamp + 1));
    const key = { keyId: randomBytes(6), keyData: randomBytes(32), timestamp };
    account.appStateKeys.push(key);
    account.appStateKey = key;
    return key;
  }

  registerNumber(phoneNumber: string, lid?: string): void {
    this.contacts.set(userOf(phoneNumber), lid ? userOf(lid) : this.contacts.get(userOf(phoneNumber)));
  }

  createGroup(options: { subject: string; participants: string[]; id?: string }): string {
    const jid = options.id ? (options.id.includes('@') ? options.id : `${options.id}@g.us`) : `120363${randomInt(10 ** 11, 10 ** 12 - 1)}@g.us`;
    const participants = options.participants.map(pnJid);
    this.groups.set(jid, { jid, subject: options.subject, participants, creator: participants[0] ?? '', creation: Math.floor(Date.now() / 1000) });
    return jid;
  }
}
