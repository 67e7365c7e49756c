/**
 * The `regular_low` collection as data, for one call: version and LT hash, the entries (index MAC →
 * value MAC) the call touched, and the account's pinned chats. Entries are loaded on demand, so a pin
 * reads and writes only the entries it touches; a full sync builds a whole new generation of them.
 */
import { randomUUID } from 'node:crypto';
import { emptyLtHash } from './app-state-crypto.js';
import { applyPins, pinsOfSnapshot } from './pin-projection.js';
import type { CollectionUpdate } from './sync-codec.js';

export const PIN_COLLECTION = 'regular_low';

/** What is stored of the collection besides its entries: one small item, loaded with the session. */
export interface CollectionMeta {
  version: number;
  /** LT hash, base64. */
  hash: string;
  /** Entries are stored under `<generation>.<index MAC>`: a full sync writes a new generation and switches to it in one commit. */
  generation: string;
  /**
   * Chats pinned, as [chat JID, pin timestamp (ms)] pairs, exact at `pinsVersion`. (Pairs, not an object:
   * Baileys' BufferJSON reviver turns an object whose keys start with digits and whose values are numbers into a Buffer.)
   */
  pins: Array<[string, number]>;
  /** The version `pins` is exact for; absent or another version: incomplete (a full sync rebuilds it). */
  pinsVersion?: number;
  /** Generations replaced by a full sync whose entries are still to be deleted. */
  staleGenerations?: string[];
}

/** Reads stored entries of a generation: index MAC (base64) → value MAC; absent ones are left out. */
export type EntryReader = (generation: string, indexMacs: string[]) => Promise<Map<string, Buffer>>;

/** What a commit stores: the meta, and the entries that changed (`<generation>.<index MAC>` → value MAC base64, null deletes). */
export interface CollectionChanges {
  meta: CollectionMeta;
  entries: Record<string, string | null>;
}

export class AppStateCollection {
  version: number;
  hash: Buffer;
  readonly generation: string;
  readonly pins: Map<string, number>;
  private pinsVersion: number | undefined;
  private readonly staleGenerations: string[];
  /** Known entries (null: known absent). */
  private readonly known = new Map<string, Buffer | null>();
  private readonly changed = new Set<string>();
  /** Reads in flight, by index MAC (a read started ahead is not made twice). */
  private readonly loading = new Map<string, Promise<void>>();
  private metaChanged = false;
  /** A full sync's generation not bulk-written yet. */
  private unwritten: boolean;

  private constructor(
    meta: CollectionMeta,
    private readonly read: EntryReader,
    /** A full sync's state: every entry is in memory, so an unknown one is absent. */
    private readonly whole: boolean,
  ) {
    this.version = meta.version;
    this.hash = Buffer.from(meta.hash, 'base64');
    this.generation = meta.generation;
    this.pins = new Map(meta.pins);
    this.pinsVersion = meta.pinsVersion;
    this.staleGenerations = [...(meta.staleGenerations ?? [])];
    this.unwritten = whole;
  }

  /** The stored collection, or none yet (a session that never synced it, or one stored before this layout): incomplete. */
  static restore(meta: CollectionMeta | undefined, read: EntryReader): AppStateCollection {
    return new AppStateCollection(meta ?? { version: 0, hash: emptyLtHash().toString('base64'), generation: randomUUID(), pins: [] }, read, false);
  }

  /** An empty collection at version 0, to be filled by a full sync; it replaces `previous` when committed. */
  static fresh(previous: AppStateCollection): AppStateCollection {
    const stale = previous.isStored ? [...previous.staleGenerations, previous.generation] : previous.staleGenerations;
    const fresh = new AppStateCollection({ version: 0, hash: emptyLtHash().toString('base64'), generation: randomUUID(), pins: [], pinsVersion: 0, staleGenerations: stale }, previous.read, true);
    fresh.metaChanged = true;
    return fresh;
  }

  /** A fresh, empty collection (a full sync's start): what a snapshot applies to. */
  get acceptsSnapshot(): boolean {
    return this.whole && this.version === 0 && this.known.size === 0;
  }

  /** Whether the pinned chats are exact for the current version. */
  get pinsExact(): boolean {
    return this.pinsVersion === this.version;
  }

  /** A full sync's generation, to be bulk-written (`entries()`, then `written()`) before the commit that switches to it. */
  get unwrittenGeneration(): boolean {
    return this.unwritten;
  }

  private get isStored(): boolean {
    return this.version > 0 || this.known.size > 0;
  }

  /** Loads the entries of these index MACs that are not known yet (one batched read, none when all are known or on their way). */
  async load(indexMacs: string[]): Promise<void> {
    if (this.whole) return;
    const wanted = [...new Set(indexMacs)].filter((mac) => !this.known.has(mac));
    const missing = wanted.filter((mac) => !this.loading.has(mac));
    if (missing.length) {
      const read = this.read(this.generation, missing).then((found) => {
        for (const mac of missing) this.known.set(mac, found.get(mac) ?? null);
      });
      for (const mac of missing) this.loading.set(mac, read);
      read.finally(() => missing.forEach((mac) => this.loading.delete(mac))).catch(() => undefined);
    }
    await Promise.all(wanted.map((mac) => this.loading.get(mac)));
  }

  /** The value MAC of an index MAC; it must have been loaded. */
  readonly valueOf = (indexMac: string): Buffer | null => {
    const value = this.known.get(indexMac);
    if (value !== undefined) return value;
    if (this.whole) return null;
    throw new Error(`app-state entry ${indexMac} was not loaded`);
  };

  /** Applies a verified update (a patch, ours or the server's, or a snapshot on a fresh collection). */
  apply(update: CollectionUpdate, kind: 'patch' | 'snapshot'): void {
    if (kind === 'snapshot') {
      if (!this.acceptsSnapshot) throw new Error('a snapshot applies only to a fresh collection');
      for (const [chatJid, at] of pinsOfSnapshot(update.mutations)) this.pins.set(chatJid, at);
    } else if (this.pinsExact) {
      applyPins(this.pins, update.mutations);
    }
    const exact = kind === 'snapshot' || this.pinsExact;
    for (const { operation, indexMac, valueMac } of update.mutations) {
      this.known.set(indexMac, operation === 'set' ? valueMac : null);
      this.changed.add(indexMac);
    }
    this.version = update.version;
    this.hash = update.hash;
    if (exact) this.pinsVersion = update.version;
    this.metaChanged = true;
  }

  /** The whole collection's entries (a full sync's) as stored, for the bulk write of its generation: `<generation>.<index MAC>` → value MAC (base64). */
  entries(): Record<string, string> {
    return Object.fromEntries([...this.known].flatMap(([mac, value]) => (value ? [[`${this.generation}.${mac}`, value.toString('base64')]] : [])));
  }

  /** The bulk write of the generation is durable: from now on, changed entries go with the commits. */
  written(): void {
    this.unwritten = false;
    this.changed.clear();
  }

  meta(): CollectionMeta {
    return {
      version: this.version,
      hash: this.hash.toString('base64'),
      generation: this.generation,
      pins: [...this.pins],
      ...(this.pinsVersion !== undefined && { pinsVersion: this.pinsVersion }),
      ...(this.staleGenerations.length && { staleGenerations: this.staleGenerations }),
    };
  }

  /** What the next commit must store since the last `changes()`; undefined when nothing changed. */
  changes(): CollectionChanges | undefined {
    if (!this.metaChanged) return undefined;
    const entries: Record<string, string | null> = {};
    if (this.unwritten) throw new Error('the full sync\'s generation must be written before the commit that switches to it');
    for (const mac of this.changed) entries[`${this.generation}.${mac}`] = this.known.get(mac)?.toString('base64') ?? null;
    this.changed.clear();
    this.metaChanged = false;
    return { meta: this.meta(), entries };
  }

  /** Generations whose entries are left over from earlier full syncs (deleted once the commit that replaced them is durable). */
  get stale(): readonly string[] {
    return this.staleGenerations;
  }

  /** Forgets stale generations once their entries are deleted (the next commit stores it). */
  forgetStale(generations: string[]): void {
    const kept = this.staleGenerations.filter((generation) => !generations.includes(generation));
    if (kept.length === this.staleGenerations.length) return;
    this.staleGenerations.splice(0, Infinity, ...kept);
    this.metaChanged = true;
  }
}
