import type { AuthenticationCreds, SignalDataTypeMap } from '@whiskeysockets/baileys';
import type { CollectionMeta } from '../app-state/collection.js';

/**
 * What a session holds: Baileys' key categories (pre-key, session, sender-key, app-state-sync-key, …) and
 * the app-state collection as data (lib/app-state/): its meta (version, LT hash, pinned chats) and one
 * entry per index MAC (`<generation>.<index MAC>` → value MAC, base64); and the chats known to exist.
 */
export type StoredDataTypeMap = SignalDataTypeMap & {
  'app-state-meta': CollectionMeta;
  'app-state-entry': string;
  /** Chats WhatsApp confirmed exist, as [chat JID, confirmed at (ms)] pairs (id `v1`): no usync for a repeated chat. */
  'known-chats': Array<[string, number]>;
};

/** A stored key category. */
export type KeyType = keyof StoredDataTypeMap;

/**
 * The key categories a pin needs: a snapshot holds all of them, so a miss there means absent.
 * `app-state-sync-version` is the layout before lib/app-state (the whole map in one value): still loaded,
 * so that its session migrates on its next pin.
 */
export const HOT_KEY_TYPES: ReadonlySet<KeyType> = new Set<KeyType>(['app-state-sync-key', 'app-state-meta', 'app-state-sync-version', 'known-chats']);

/**
 * Hot keys are loaded with the creds in one request. Besides the pin's categories, the few keys Baileys
 * reads and rewrites on every login about the account itself (its own LID mapping, device list and
 * sessions, the trusted-contact token index) — a stable choice per device, so a miss means absent.
 */
export function isHotKey(type: KeyType, id: string, ownUser: string | undefined): boolean {
  if (HOT_KEY_TYPES.has(type)) return true;
  if (type === 'tctoken') return id === '__index';
  if (!ownUser) return false;
  if (type === 'lid-mapping' || type === 'device-list') return id === ownUser;
  return type === 'session' && id.startsWith(`${ownUser}.`);
}

/** The account's phone-number user (`<digits>` of `me.id`), which never changes for a linked device. */
export const ownUserOf = (creds: AuthenticationCreds | undefined): string | undefined => creds?.me?.id.split(/[:@]/)[0];

/** Key changes by category and id; `null` deletes the key. */
export type KeyChanges = { [T in KeyType]?: { [id: string]: StoredDataTypeMap[T] | null } };

/**
 * absent: nothing stored; linking: creds without `me` (pairing never finished);
 * linked: creds with `me`; logged-out: WhatsApp said 401 (items kept for diagnosis).
 */
export type SessionState = 'absent' | 'linking' | 'linked' | 'logged-out';

/**
 * A per-device lease. `sessionVersion` is an opaque token: every commit sets a new one (and every
 * write-through invalidates it), `acquireLease` reads it back, so a warm instance can tell whether
 * anyone changed the session since its own last commit.
 */
export interface Lease {
  deviceId: string;
  owner: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  sessionVersion?: string;
  /** Requests queued on the device so far (lib/device-turns): a release can be made conditional on it. */
  seq?: number;
}

/** A release conditional on the queue (`whenSeq`) found requests queued since: nothing was committed, the lease is still ours. */
export class QueueGrewError extends Error {
  constructor(readonly seq: number) {
    super(`requests were queued on the device (seq ${seq}) since the lease's view`);
    this.name = 'QueueGrewError';
  }
}

/** What a pin needs: the state, the creds and every hot key (app-state-sync-key and -version). */
export interface SessionSnapshot {
  state: SessionState;
  creds?: AuthenticationCreds;
  keys: KeyChanges;
}

export interface DeviceSummary {
  deviceId: string;
  state: SessionState;
  linkedJid?: string;
  /** Epoch milliseconds of the last lease acquisition or creds write. */
  lastUsedAt?: number;
}

/** Sessions of WhatsApp devices, one lease per device fencing every write. */
export interface SessionStore {
  /** One request. DeviceBusyError when another live owner holds it; an expired lease is taken over. */
  acquireLease(deviceId: string, owner: string, ttlSeconds: number): Promise<Lease>;
  /** LeaseLostError when the lease is not ours any more. */
  renewLease(lease: Lease, ttlSeconds: number): Promise<Lease>;
  /** Conditional on ownership; silently ok when already lost. `whenSeq` as for commit. */
  releaseLease(lease: Lease, options?: { whenSeq?: number }): Promise<void>;
  /** Creds, state and hot keys in one request (more only beyond 1 MB). */
  load(deviceId: string): Promise<SessionSnapshot>;
  /** Batched reads (≤ 100 keys per request), unprocessed keys retried. Absent ids are left out. */
  getKeys<T extends KeyType>(deviceId: string, type: T, ids: string[]): Promise<{ [id: string]: StoredDataTypeMap[T] }>;
  /** The same for several categories at once (one BatchGetItem up to 100 keys). */
  getMany(deviceId: string, wanted: { [T in KeyType]?: string[] }): Promise<KeyChanges>;
  /**
   * Bulk write outside the lease's fence, for values nothing reads until a fenced commit points at them
   * (a full sync's new generation of app-state entries). Batched and parallel; resolves once durable.
   */
  putUnfenced<T extends KeyType>(deviceId: string, type: T, values: { [id: string]: StoredDataTypeMap[T] }): Promise<void>;
  /** Deletes every key of `type` whose id starts with `idPrefix` (a replaced generation of app-state entries). */
  deleteKeysWithPrefix(deviceId: string, type: KeyType, idPrefix: string): Promise<void>;
  /** Write-through, durable when resolved; fenced by the lease, which it keeps. LeaseLostError when fenced out. */
  write(lease: Lease, changes: { creds?: AuthenticationCreds; keys?: KeyChanges }): Promise<void>;
  /**
   * Final fenced write that also releases the lease; returns the new session version. LeaseLostError when
   * fenced out. `whenSeq`: release only if no request was queued since (QueueGrewError otherwise, nothing written).
   */
  commit(lease: Lease, changes: { creds?: AuthenticationCreds; keys?: KeyChanges; state?: 'logged-out' }, options?: { whenSeq?: number }): Promise<string>;
  list(): Promise<DeviceSummary[]>;
  deleteDevice(deviceId: string): Promise<void>;
}
