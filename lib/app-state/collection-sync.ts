/**
 * Keeps one collection in step with WhatsApp over a transport (the device's connection): full sync
 * (snapshot by reference + patches), catching up after a 409 or a resync (paged), and the optimistic
 * upload of our own mutations on the current version. Every answer is verified before it is applied.
 */
import { proto, toNumber, type BinaryNode } from '@whiskeysockets/baileys';
import { DeviceBusyError, WhatsAppRejectedError, WhatsAppTimeoutError } from '../errors.js';
import type { AppStateKeys } from './app-state-keys.js';
import { AppStateCollection, PIN_COLLECTION } from './collection.js';
import { downloadExternalBlob } from './external-blob.js';
import { decodePatch, decodeSnapshot, encodePatch, indexMacOf, touchedIndexMacs, type CollectionUpdate, type DecodedMutation, type MutationInput } from './sync-codec.js';
import { readSyncAnswer, resyncIq, uploadIq, type SyncAnswer } from './sync-iq.js';

/** Sends an IQ and resolves with its answer by `by` (epoch ms); typed errors otherwise. */
export interface SyncTransport {
  query(node: BinaryNode, by: number): Promise<BinaryNode>;
}

export interface CollectionSyncOptions {
  /** WhatsApp's media host override (the simulator); undefined → WhatsApp's. */
  mediaUrl?: string;
}

/** Bound on resync pages in one catch-up (a malformed answer must not loop forever). */
const MAX_PAGES = 200;

/** The patches this sync applied one by one since `from` (a snapshot breaks the chain). */
interface History {
  from: number;
  patches: Array<{ version: number; mutations: DecodedMutation[] }>;
}

export class CollectionSync {
  /** 409 answers met so far. */
  conflicts = 0;
  private history: History | undefined;

  constructor(
    /** The collection as it stands; a full sync replaces it. */
    public collection: AppStateCollection,
    private readonly transport: SyncTransport,
    private readonly keys: AppStateKeys,
    private readonly options: CollectionSyncOptions = {},
    private readonly name = PIN_COLLECTION,
  ) {
    this.history = { from: collection.version, patches: [] };
  }

  /**
   * The mutations of every patch after `version` (the server's and ours), in order, if this sync saw each
   * of them; undefined when it cannot tell (it started later, or a snapshot replaced the chain).
   */
  mutationsAfter(version: number): DecodedMutation[] | undefined {
    if (!this.history || this.history.from > version) return undefined;
    return this.history.patches.filter((patch) => patch.version > version).flatMap((patch) => patch.mutations);
  }

  /** Rebuilds the collection from WhatsApp: the snapshot (if the server has one) and every patch after it. */
  async full(by: number): Promise<void> {
    const answer = await this.ask(resyncIq(this.name, 0, true), by);
    this.collection = await this.absorb(answer, by, AppStateCollection.fresh(this.collection));
  }

  /** Asks for what happened since our version: true when nothing did (our version is the server's). */
  async refresh(by: number): Promise<boolean> {
    const before = this.collection.version;
    this.collection = await this.absorb(await this.ask(resyncIq(this.name, before), by), by);
    return this.collection.version === before;
  }

  /**
   * Uploads `inputs` as one patch on the current version. Accepted: applied. A 409 (someone else moved the
   * collection first): the server's patches are applied and 'conflict' tells the caller to decide again.
   */
  async upload(inputs: MutationInput[], by: number): Promise<'accepted' | 'conflict'> {
    const key = this.keys.upload();
    await this.collection.load(inputs.map((input) => indexMacOf(input.index, key.keys.indexKey)));
    const { patch, update } = encodePatch(this.name, this.collection, this.collection.valueOf, inputs, key);
    const result = await this.transport.query(uploadIq(this.name, this.collection.version, patch), by).catch((error: unknown) => {
      // Replaced (440) while the patch was in flight: WhatsApp may have applied it; the caller must not be told "busy".
      if (error instanceof DeviceBusyError) throw new WhatsAppTimeoutError('connection replaced while the patch was in flight: whether WhatsApp applied it is unknown', { cause: error });
      throw error;
    });
    const answer = readSyncAnswer(result, this.name);
    if (answer.status === 'rejected') throw new WhatsAppRejectedError(`WhatsApp rejected the patch: ${answer.reason}`);
    if (answer.status === 'ok') {
      this.applyPatch(this.collection, update);
      return 'accepted';
    }
    this.conflicts++;
    const before = this.collection.version;
    this.collection = await this.absorb(answer, by);
    // A 409 that brought nothing new would make the next upload fail the same way: ask once more.
    if (this.collection.version === before) this.collection = await this.absorb(await this.ask(resyncIq(this.name, before), by), by);
    return 'conflict';
  }

  /** The index MAC the upload key gives `index` (what the entry of a chat's pin is stored under). */
  indexMacOf(index: string[]): string {
    return indexMacOf(index, this.keys.upload().keys.indexKey);
  }

  private async ask(node: BinaryNode, by: number): Promise<SyncAnswer> {
    const answer = readSyncAnswer(await this.transport.query(node, by), this.name);
    if (answer.status !== 'ok') throw new WhatsAppRejectedError(`WhatsApp refused the app-state sync: ${answer.reason ?? answer.status}`);
    return answer;
  }

  /**
   * Applies an answer's snapshot and patches to `target`, then pages on while the server has more; returns
   * the collection reached (a new one when a snapshot replaced it).
   */
  private async absorb(first: SyncAnswer, by: number, start = this.collection): Promise<AppStateCollection> {
    let answer = first;
    let target = start;
    for (let page = 0; ; page++) {
      if (answer.snapshot) {
        const snapshot = proto.SyncdSnapshot.decode(await this.download(answer.snapshot, by));
        if (!target.acceptsSnapshot) target = AppStateCollection.fresh(target);
        target.apply(decodeSnapshot(this.name, snapshot, this.keys.lookup), 'snapshot');
        this.history = undefined;
      }
      const patches = answer.patches.filter((patch) => toNumber(patch.version?.version) > target.version);
      for (const patch of patches) {
        if (!patch.externalMutations) continue;
        const external = proto.SyncdMutations.decode(await this.download(patch.externalMutations, by));
        patch.mutations = [...(patch.mutations ?? []), ...(external.mutations ?? [])];
      }
      await target.load(patches.flatMap(touchedIndexMacs));
      for (const patch of patches) this.applyPatch(target, decodePatch(this.name, patch, target, target.valueOf, this.keys.lookup));
      if (!answer.hasMore) return target;
      if (page === MAX_PAGES) throw new WhatsAppRejectedError('app-state sync did not converge');
      const before = target.version;
      answer = await this.ask(resyncIq(this.name, before), by);
      if (!answer.snapshot && !answer.patches.some((patch) => toNumber(patch.version?.version) > before)) {
        if (answer.hasMore) throw new WhatsAppRejectedError('app-state sync made no progress');
        return target;
      }
    }
  }

  private applyPatch(target: AppStateCollection, update: CollectionUpdate): void {
    target.apply(update, 'patch');
    this.history?.patches.push({ version: update.version, mutations: update.mutations });
  }

  private download(ref: proto.IExternalBlobReference, by: number): Promise<Buffer> {
    return downloadExternalBlob(ref, { mediaUrl: this.options.mediaUrl, by });
  }
}
