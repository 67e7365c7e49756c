/**
 * A realistic regular_low history for an account, built fast: a snapshot of `entries` records (one per chat: archive,
 * markChatAsRead or pin_v1) under the account's older key, hosted on the media host; then (by default) the phone rotates
 * its key and makes ~20 later patches under the new one, some with several mutations, some pinning `laterPinned`.
 * Every record is encrypted once with keys expanded once; the snapshot is encoded once.
 */
import { performance } from 'node:perf_hooks';
import type { MutationInput } from './app-state-crypto.js';
import type { AppStateServer, PhoneChange } from './app-state-server.js';
import type { SeedAppStateOptions, SeededAppState } from './index.js';
import { pnJid, userOf, type AccountRecord, type Registry } from './registry.js';

const DAY = 24 * 3600 * 1000;
const DEFAULT_SNAPSHOT_VERSION = 33;
const DEFAULT_LATER_PATCHES = 20;

export interface SeedContext {
  registry: Registry;
  record: AccountRecord;
  appState: AppStateServer;
  pinLimit: number | undefined;
  /** rotates the account's key (sharing it to the linked devices); returns the new key id (base64) */
  rotate: () => string;
}

/** Seeded contacts: 1555 8 + 6 digits (+1 555 numbers are fictional), each registered on WhatsApp with a LID. */
const seededNumber = (i: number) => `15558${String(i).padStart(6, '0')}`;

export function seedAppState(ctx: SeedContext, options: SeedAppStateOptions): SeededAppState {
  const started = performance.now();
  const { registry, record, appState } = ctx;
  const entries = Math.floor(options.entries);
  if (!Number.isSafeInteger(entries) || entries < 0 || entries > 999_999) throw new Error('entries must be an integer in 0..999999');
  if (appState.version('regular_low') !== 0) throw new Error(`the regular_low collection of ${record.phoneNumber} is not empty: seed a fresh account`);
  const pinned = [...new Set(options.pinned ?? [])];
  const laterPinned = [...new Set(options.laterPinned ?? [])].filter(jid => !pinned.includes(jid));
  if (pinned.length > entries) throw new Error('more pinned chats than entries');
  if (ctx.pinLimit !== undefined && pinned.length + laterPinned.length > ctx.pinLimit) {
    throw new Error(`${pinned.length + laterPinned.length} pinned chats exceed the phone's pin limit (${ctx.pinLimit})`);
  }
  const snapshotVersion = options.snapshotVersion ?? DEFAULT_SNAPSHOT_VERSION;
  const now = Date.now();
  const me = pnJid(record.phoneNumber);

  // Chats that exist: individual chats on WhatsApp, groups the account is in.
  const ensureChat = (jid: string) => {
    if (jid.endsWith('@g.us')) {
      if (!registry.groups.has(jid)) registry.createGroup({ id: jid, subject: `Group ${jid.slice(-6, -5)}`, participants: [me] });
    } else if (!registry.contacts.has(userOf(jid))) registry.registerNumber(userOf(jid));
  };
  for (const jid of [...pinned, ...laterPinned]) ensureChat(jid);
  const groupCount = Math.min(options.groups ?? Math.min(5, Math.floor(entries / 20)), entries - pinned.length);
  const groups: string[] = [];
  for (let g = 0; g < groupCount; g++) {
    const participants = [me, seededNumber(g * 3 + 1), seededNumber(g * 3 + 2)];
    groups.push(registry.createGroup({ subject: `Seeded group ${g + 1}`, participants }));
  }
  const chats: string[] = [...pinned, ...groups];
  const taken = new Set(chats);
  for (let i = 1; chats.length < entries; i++) {
    const number = seededNumber(i);
    const jid = `${number}@s.whatsapp.net`;
    if (taken.has(jid)) continue;
    if (!registry.contacts.get(number)) registry.registerNumber(number, `3${number}`);
    chats.push(jid);
  }

  // The snapshot: one record per chat, a realistic mix; pins with increasing timestamps, all older than the later patches.
  const pinnedSince = now - 10 * DAY;
  const inputs: MutationInput[] = chats.map((chatJid, i): MutationInput => {
    const pin = pinned.indexOf(chatJid);
    if (pin >= 0) return { operation: 'set', index: ['pin_v1', chatJid], value: { pinAction: { pinned: true }, timestamp: pinnedSince + pin * 60_000 }, apiVersion: 5 };
    const timestamp = now - 30 * DAY + Math.floor((i / Math.max(1, entries)) * 19 * DAY);
    const messageRange = { lastMessageTimestamp: Math.floor(timestamp / 1000) - 60 };
    const kind = i % 20;
    if (kind < 13) return { operation: 'set', index: ['markChatAsRead', chatJid], value: { markChatAsReadAction: { read: kind !== 0, messageRange }, timestamp }, apiVersion: 3 };
    if (kind < 18) return { operation: 'set', index: ['archive', chatJid], value: { archiveChatAction: { archived: kind !== 13, messageRange }, timestamp }, apiVersion: 3 };
    return { operation: 'set', index: ['pin_v1', chatJid], value: { pinAction: { pinned: false }, timestamp }, apiVersion: 5 };
  });
  const snapshotKeyId = appState.newestKey().id;
  const snapshotKey = Buffer.from(snapshotKeyId).toString('base64');
  appState.seedSnapshot(inputs, { keyId: snapshotKey, version: snapshotVersion });

  // The phone rotates its key, then works on.
  const currentKeyId = (options.keyRotation ?? true) ? ctx.rotate() : snapshotKey;
  const patches = Math.max(options.laterPatches ?? DEFAULT_LATER_PATCHES, laterPinned.length ? 1 : 0);
  const pinAt = new Map<number, string[]>();
  laterPinned.forEach((jid, k) => {
    const at = Math.min(patches - 1, Math.floor(((k + 1) * patches) / (laterPinned.length + 1)));
    pinAt.set(at, [...(pinAt.get(at) ?? []), jid]);
  });
  const plain = chats.filter(jid => !pinned.includes(jid));
  const pick = (j: number, m: number) => plain[(j * 7919 + m * 104729) % Math.max(1, plain.length)];
  for (let j = 0; j < patches; j++) {
    const timestamp = now - 9 * DAY + Math.floor((j / patches) * 9 * DAY);
    const changes: PhoneChange[] = (pinAt.get(j) ?? []).map((chatJid, k) => ({ action: 'pin', chatJid, value: true, timestamp: timestamp + k }));
    const count = plain.length ? (j % 5 === 4 ? 3 + (j % 4) : 1 + (j % 2)) : 0;
    for (let m = 0; m < count; m++) {
      const chatJid = pick(j, m);
      changes.push(m % 3 === 2 ? { action: 'archive', chatJid, value: j % 2 === 0, timestamp } : { action: 'markRead', chatJid, value: true, timestamp });
    }
    if (!changes.length) changes.push({ action: 'markRead', chatJid: laterPinned[0] ?? pinned[0] ?? me, value: true, timestamp });
    appState.phoneMutate(changes, { keyId: currentKeyId });
  }
  return {
    chats: [...chats, ...laterPinned],
    groups,
    snapshotVersion,
    version: appState.version('regular_low'),
    snapshotKeyId: snapshotKey,
    currentKeyId,
    elapsedMs: performance.now() - started,
  };
}
