/**
 * Keeps one collection in step with WhatsApp over a transport (the device's connection): full sync
 * (snapshot by reference + patches), catching up after a 409 or a resync (paged), and the optimistic
 * upload of our own mutations on the current version. Every answer is verified before it is applied.
 */
import { proto, type BinaryNode } from '@whiskeysockets/baileys';
import { WhatsAppRejectedError } from '../errors.js';
import type { AppStateKeys } from './app-state-keys.js';
import { AppStateCollection, PIN_COLLECTION } from './collection.js';
import { downloadExternalBlob } from './external-blob.js';
import { decodePatch, decodeSnapshot, encodePatch, indexMacOf, touchedIndexMacs, type MutationInput } from './sync-codec.js';
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
const toNumber = (n: number | { toNumber(): number } | null | undefined): number => (n === null || n === undefined ? 0 : typeof n === 'number' ? n : n.toNumber());

export class CollectionSync {
  /** 409 answers met so far. */
  conflicts = 0;

  constructor(
    /** The collection as it stands; a full sync replaces it. */
    public collection: AppStateCollection,
    private readonly transport: SyncTransport,
    private readonly keys: AppStateKeys,
    private readonly options: CollectionSyncOptions = {},
    private readonly name = PIN_COLLECTION,
  ) {}

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
    const answer = readSyncAnswer(await this.transport.query(uploadIq(this.name, this.collection.version, patch), by), this.name);
    if (answer.status === 'rejected') throw new WhatsAppRejectedError(`WhatsApp rejected the patch: ${answer.reason}`);
    if (answer.status === 'ok') {
      this.collection.apply(update, 'patch');
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
      }
      const patches = answer.patches.filter((patch) => toNumber(patch.version?.version) > target.version);
      for (const patch of patches) {
        if (!patch.externalMutations) continue;
        const external = proto.SyncdMutations.decode(await this.download(patch.externalMutations, by));
        patch.mutations = [...(patch.mutations ?? []), ...(external.mutations ?? [])];
      }
      await target.load(patches.flatMap(touchedIndexMacs));
      for (const patch of patches) target.apply(decodePatch(this.name, patch, target, target.valueOf, this.keys.lookup), 'patch');
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

  private download(ref: proto.IExternalBlobReference, by: number): Promise<Buffer> {
    return downloadExternalBlob(ref, { mediaUrl: this.options.mediaUrl, by });
  }
}
