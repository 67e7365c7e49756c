import { initAuthCreds, type AuthenticationCreds, type AuthenticationState, type SignalDataSet } from '@whiskeysockets/baileys';
import { BufferJSON } from './buffer-json.js';
import { HOT_KEY_TYPES, isHotKey, ownUserOf, type KeyChanges, type KeyType, type Lease, type SessionSnapshot, type SessionStore, type StoredDataTypeMap } from './session-store.js';

/**
 * Creds fields that describe keys WhatsApp or the phone already know about, written through at once:
 * lost pre-key counters reuse uploaded ids (Bad MAC), a lost signed pre-key breaks new sessions.
 * (`myAppStateKeyId` is not among them: uploads use the newest app-state key by timestamp, and the
 * key records themselves are written through as they arrive.)
 */
const URGENT_CREDS = ['nextPreKeyId', 'firstUnuploadedPreKeyId', 'signedPreKey'] as const;

export interface SessionAuthState {
  state: AuthenticationState;
  /** Reads any stored category (Baileys' and lib/app-state's): memory first, then the store. */
  get<T extends KeyType>(type: T, ids: string[]): Promise<{ [id: string]: StoredDataTypeMap[T] }>;
  /** Reads keys of several categories ahead, in one request, so that later reads are answered from memory. */
  prefetch(wanted: { [T in KeyType]?: string[] }): Promise<void>;
  /** Every known value of a hot category (e.g. all app-state keys the phone shared), as in memory now. */
  all<T extends KeyType>(type: T): { [id: string]: StoredDataTypeMap[T] };
  /** Call on Baileys' `creds.update`: pending for the commit, written through at once for URGENT_CREDS (pre-key counters, …). */
  credsChanged(update: Partial<AuthenticationCreds>): void;
  /** Key changes kept for the final commit (e.g. app-state-sync-version of a pin). */
  setKeys(changes: KeyChanges): void;
  /**
   * Waits for write-throughs, then commits what is pending and releases the lease; returns the session
   * version. `whenSeq`: only if no request was queued on the device since (QueueGrewError: nothing written, still pending).
   */
  commit(options?: { state?: 'logged-out' }, release?: { whenSeq?: number }): Promise<string>;
  /** Store requests issued through this auth state since it was opened or rebound. */
  requests(): number;
  /** A write-through failed (e.g. fenced out between calls): memory may be ahead of the store; do not reuse. */
  failed(): boolean;
  /** Warm reuse: the same memory serves the next call under its new lease. */
  rebind(next: Lease): void;
}

/**
 * Baileys' AuthenticationState over a SessionStore: reads from memory (snapshot, fetched, pending),
 * then from the store; `keys.set` writes through (resolves once durable, fenced by the lease).
 */
export function openSessionAuthState(store: SessionStore, lease: Lease, snapshot: SessionSnapshot): SessionAuthState {
  /** An absent session starts linking with fresh creds, stored by the commit. */
  const creds = snapshot.creds ?? initAuthCreds();
  const ownUser = ownUserOf(creds);
  /** Known values by type and id; null = known absent. */
  const memory = new Map<string, Map<string, unknown>>();
  const pending: KeyChanges = {};
  let credsDirty = snapshot.state === 'absent';
  /** The creds as stored: a commit writes them only if they differ (Baileys re-emits them unchanged at every login). */
  let storedCreds = snapshot.creds ? JSON.stringify(snapshot.creds, BufferJSON.replacer) : undefined;
  let requests = 0;
  let writes: Promise<void> = Promise.resolve();
  let writeError: unknown;

  const remember = (changes: KeyChanges) => {
    for (const [type, values] of Object.entries(changes)) {
      const known = memory.get(type) ?? memory.set(type, new Map()).get(type)!;
      for (const [id, value] of Object.entries(values ?? {})) known.set(id, value ?? null);
    }
  };
  /**
   * Write-throughs go one at a time, in the order Baileys made them; changes made while one is waiting to
   * start join it (a macrotask later), so that e.g. the pre-key counters and the pre-keys Baileys writes
   * right after them go in one transaction. A failure is reported by commit.
   */
  let waiting: { creds: boolean; keys: KeyChanges; done: Promise<void> } | undefined;
  const writeThrough = (changes: { creds?: AuthenticationCreds; keys?: KeyChanges }): Promise<void> => {
    if (!waiting) {
      const batch = { creds: false, keys: {} as KeyChanges, done: undefined as unknown as Promise<void> };
      batch.done = writes.then(() => new Promise((resolve) => setImmediate(resolve))).then(() => {
        waiting = undefined;
        if (writeError) throw writeError;
        requests++;
        const credsText = batch.creds ? JSON.stringify(creds, BufferJSON.replacer) : undefined;
        return store.write(lease, { creds: batch.creds ? creds : undefined, keys: batch.keys }).then(() => {
          if (credsText !== undefined) storedCreds = credsText;
        });
      });
      writes = batch.done.catch((error) => {
        writeError ??= error;
      });
      waiting = batch;
    }
    if (changes.creds) waiting.creds = true;
    for (const [type, values] of Object.entries(changes.keys ?? {})) Object.assign(((waiting.keys as Record<string, object>)[type] ??= {}), values);
    return waiting.done;
  };
  remember(snapshot.keys);

  /** Reads in flight, by `type/id`: a key read ahead is not read twice. */
  const inflight = new Map<string, Promise<void>>();
  /** Fetches what memory does not know (absent ones remembered too), in one request. */
  const fetch = (wanted: { [T in KeyType]?: string[] }): Promise<void> => {
    const misses: { [T in KeyType]?: string[] } = {};
    const waits: Array<Promise<void>> = [];
    for (const [type, ids] of Object.entries(wanted) as Array<[KeyType, string[]]>) {
      for (const id of ids) {
        const pending = inflight.get(`${type}/${id}`);
        if (pending) waits.push(pending);
        else if (memory.get(type)?.get(id) === undefined && !isHotKey(type, id, ownUser)) (misses[type] ??= []).push(id);
      }
    }
    if (Object.keys(misses).length) {
      requests++;
      const read = store.getMany(lease.deviceId, misses).then((fetched) => {
        for (const [type, ids] of Object.entries(misses) as Array<[KeyType, string[]]>) {
          remember({ [type]: Object.fromEntries(ids.map((id) => [id, (fetched[type] as Record<string, unknown> | undefined)?.[id] ?? null])) });
        }
      });
      for (const [type, ids] of Object.entries(misses) as Array<[KeyType, string[]]>) for (const id of ids) inflight.set(`${type}/${id}`, read);
      void read.finally(() => {
        for (const [type, ids] of Object.entries(misses) as Array<[KeyType, string[]]>) for (const id of ids) inflight.delete(`${type}/${id}`);
      }).catch(() => undefined);
      waits.push(read);
    }
    return Promise.all(waits).then(() => undefined);
  };
  const get = async <T extends KeyType>(type: T, ids: string[]) => {
    await fetch({ [type]: ids });
    const known = memory.get(type);
    const result: { [id: string]: StoredDataTypeMap[T] } = {};
    for (const id of ids) {
      const value = known?.get(id);
      if (value !== undefined && value !== null) result[id] = value as StoredDataTypeMap[T];
    }
    return result;
  };
  const keys = {
    async get<T extends KeyType>(type: T, ids: string[]) {
      refuseAppStateVersion(type);
      return get(type, ids);
    },
    async set(data: SignalDataSet) {
      for (const type of Object.keys(data)) refuseAppStateVersion(type);
      // Baileys rewrites some keys unchanged on every login (e.g. its own device list): those cost nothing.
      const changed: KeyChanges = {};
      for (const [type, values] of Object.entries(data) as Array<[KeyType, Record<string, unknown>]>) {
        for (const [id, value] of Object.entries(values ?? {})) {
          if (!sameValue(memory.get(type)?.get(id), value)) ((changed[type] ??= {}) as Record<string, unknown>)[id] = value;
        }
      }
      if (Object.keys(changed).length === 0) return;
      remember(changed);
      for (const [type, values] of Object.entries(changed)) {
        const waiting = pending[type as KeyType] as Record<string, unknown> | undefined;
        for (const id of Object.keys(values ?? {})) delete waiting?.[id];
      }
      await writeThrough({ keys: changed });
    },
  };

  return {
    state: { creds, keys },
    get,
    prefetch: fetch,
    all(type) {
      if (!HOT_KEY_TYPES.has(type)) throw new Error(`${type} is not a hot category: its values are not all in memory`);
      return Object.fromEntries([...(memory.get(type) ?? [])].filter(([, value]) => value !== null)) as never;
    },
    credsChanged(update) {
      Object.assign(creds, update);
      credsDirty = true;
      if (URGENT_CREDS.some((field) => field in update)) void writeThrough({ creds }).catch(() => undefined);
    },
    setKeys(changes) {
      remember(changes);
      for (const [type, values] of Object.entries(changes)) Object.assign(((pending as Record<string, object>)[type] ??= {}), values);
    },
    async commit(options = {}, release = {}) {
      await writes;
      if (writeError) throw writeError;
      requests++;
      const credsText = credsDirty ? JSON.stringify(creds, BufferJSON.replacer) : storedCreds;
      const version = await store.commit(lease, { creds: credsText !== storedCreds ? creds : undefined, keys: pending, state: options.state }, release);
      credsDirty = false;
      storedCreds = credsText;
      for (const type of Object.keys(pending)) delete pending[type as KeyType];
      return version;
    },
    requests: () => requests,
    failed: () => writeError !== undefined,
    rebind(next) {
      lease = next;
      requests = 0;
    },
  };
}

/**
 * Baileys keeps an app-state collection as one `app-state-sync-version` value; here the collection is data
 * (lib/app-state/) and Baileys never syncs it (lib/whatsapp/wa-socket.ts takes its server_sync
 * notifications). Should Baileys try anyway, it fails before any traffic instead of reading a wrong state.
 */
function refuseAppStateVersion(type: string): void {
  if (type === 'app-state-sync-version') throw new Error('app state is synced by lib/app-state, not by Baileys');
}

/** Whether a key's new value equals what is known of it (`undefined`: unknown, never equal). */
function sameValue(known: unknown, next: unknown): boolean {
  if (known === undefined) return false;
  if (known === null || next === null || next === undefined) return known === null && (next === null || next === undefined);
  return JSON.stringify(known, BufferJSON.replacer) === JSON.stringify(next, BufferJSON.replacer);
}
