/**
 * One account's app-state (syncd) store on the simulated server: per collection a version, the patches since the last
 * snapshot, the latest record of every index and (once compacted) a snapshot hosted on the media host, answering
 * `w:sync:app:state` <sync> requests as the real server does (snapshot + patch pages, 409 on a stale base,
 * per-collection errors), verifying every uploaded patch with node:crypto (./app-state-crypto.ts) and keeping the
 * decoded per-chat state. The simulated phone mutates through phoneMutate; seedSnapshot builds a large history fast.
 */
import { getBinaryNodeChildren, proto, type BinaryNode } from '@whiskeysockets/baileys';
import {
  encodePatch,
  encodeSnapshot,
  encryptRecords,
  mixRecords,
  newCollectionState,
  PatchVerificationError,
  verifyPatch,
  withExpandedKeys,
  type AppStateKey,
  type CollectionState,
  type DecodedMutation,
  type MutationInput,
} from './app-state-crypto.js';
import type { MediaHost } from './media-host.js';

export const APP_STATE_COLLECTIONS = ['critical_block', 'critical_unblock_low', 'regular_high', 'regular', 'regular_low'] as const;

export interface ChatAppState {
  pinned: boolean;
  /** the pin action's timestamp (ms, from the patch) while pinned */
  pinnedAt?: number;
  /** device jid that last pinned/unpinned the chat ('phone' or the phone jid for the primary) */
  byDevice?: string;
  archived?: boolean;
  /** markChatAsRead's `read` */
  read?: boolean;
}

/** A change the phone makes: one mutation of a patch. timestamp (ms) defaults to now. */
export interface PhoneChange { action: 'pin' | 'archive' | 'markRead'; chatJid: string; value: boolean; timestamp?: number }

/** The regular_low mutation for a phone change, as WhatsApp clients encode it (Baileys' chatModificationToAppPatch). */
export function changeToMutation(change: PhoneChange, now: number): MutationInput {
  const timestamp = change.timestamp ?? now;
  const messageRange = { lastMessageTimestamp: Math.floor(timestamp / 1000) - 60 };
  switch (change.action) {
    case 'pin': return { operation: 'set', index: ['pin_v1', change.chatJid], value: { pinAction: { pinned: change.value }, timestamp }, apiVersion: 5 };
    case 'archive': return { operation: 'set', index: ['archive', change.chatJid], value: { archiveChatAction: { archived: change.value, messageRange }, timestamp }, apiVersion: 3 };
    case 'markRead': return { operation: 'set', index: ['markChatAsRead', change.chatJid], value: { markChatAsReadAction: { read: change.value, messageRange }, timestamp }, apiVersion: 3 };
    default: throw new Error(`unknown phone action ${(change as { action: string }).action}`);
  }
}

export interface AppStateViolation {
  at: number;
  deviceJid?: string;
  kind: string;
  detail: string;
}

interface Collection {
  state: CollectionState;
  /** patches[i] moved the collection to version base + i + 1; bytes = the SyncdPatch as uploaded with its version appended */
  patches: Uint8Array[];
  /** the version the kept patches start from: 0, or the version of the snapshot that replaced the older patches */
  base: number;
  /** base64(indexMac) → the latest record of that index, as uploaded or made (what a snapshot holds) */
  records: Map<string, proto.ISyncdRecord>;
  /** the latest compaction: SyncdSnapshot at `version`, hosted on the media host; `ref` = ExternalBlobReference bytes */
  snapshot?: { version: number; ref: Uint8Array; directPath: string; keyId: string };
}

export interface AppStateServerOptions {
  now?: () => number;
  /** patches per answer (has_more_patches beyond it), snapshot answers included */
  pageSize?: number;
  /** byDevice of phone mutations */
  phoneJid?: string;
  /** where snapshots and external mutations are hosted (needed by compact, seedSnapshot and > 100-mutation phone patches) */
  media?: MediaHost;
  /** the base64 ids of the keys a device holds, to flag an upload under an older key than its newest */
  deviceKeys?: (deviceJid: string) => ReadonlySet<string> | undefined;
  /** called after every accepted patch (device upload or phone mutation) */
  onAppend?: (collection: string, byDevice: string, mutations: DecodedMutation[]) => void;
}

const toNumber = (n: number | { toNumber(): number } | null | undefined): number | undefined =>
  n === null || n === undefined ? undefined : typeof n === 'number' ? n : n.toNumber();

export class AppStateServer {
  readonly violations: AppStateViolation[] = [];
  private readonly now: () => number;
  private readonly pageSize: number;
  private readonly phoneJid: string;
  private readonly keys = new Map<string, { id: Uint8Array; data: Uint8Array; timestamp: number }>();
  private readonly collections = new Map<string, Collection>(APP_STATE_COLLECTIONS.map(name => [name, { state: newCollectionState(), patches: [], base: 0, records: new Map() }]));
  private readonly chats = new Map<string, ChatAppState>();
  private hook: (() => void | Promise<void>) | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AppStateServerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.pageSize = options.pageSize ?? 50;
    this.phoneJid = options.phoneJid ?? 'phone';
  }

  addKey(keyId: Uint8Array, keyData: Uint8Array, timestamp: number): void {
    this.keys.set(Buffer.from(keyId).toString('base64'), { id: Uint8Array.from(keyId), data: Uint8Array.from(keyData), timestamp });
  }

  /** The newest key by timestamp (what the phone encrypts with). */
  newestKey(): AppStateKey & { timestamp: number } {
    const key = [...this.keys.values()].sort((a, b) => b.timestamp - a.timestamp)[0];
    if (!key) throw new Error('the account has no app-state sync key');
    return key;
  }

  private key(keyIdB64: string): AppStateKey & { timestamp: number } {
    const key = this.keys.get(keyIdB64);
    if (!key) throw new Error(`the account has no app-state key ${keyIdB64}`);
    return key;
  }

  /** Answers the <sync> child of an IQ set xmlns="w:sync:app:state" with the <sync> for the result IQ. Requests run one at a time. */
  handleSync(syncNode: BinaryNode, deviceJid: string): Promise<BinaryNode> {
    const run = this.queue.then(async (): Promise<BinaryNode> => {
      const answers: BinaryNode[] = [];
      for (const node of getBinaryNodeChildren(syncNode, 'collection')) answers.push(await this.handleCollection(node, deviceJid));
      return { tag: 'sync', attrs: {}, content: answers };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The phone changes app state: one real patch in regular_low holding every change, encrypted with the account's
   * newest key (or `keyId`). More than 100 mutations go to an external SyncdMutations blob on the media host.
   */
  phoneMutate(changes: PhoneChange | PhoneChange[], options: { keyId?: string } = {}): void {
    const list = Array.isArray(changes) ? changes : [changes];
    if (!list.length) throw new Error('a patch needs at least one change');
    const key = options.keyId ? this.key(options.keyId) : this.newestKey();
    const now = this.now();
    const collection = this.collections.get('regular_low')!;
    const media = this.options.media;
    const { patch, state, mutations } = encodePatch('regular_low', list.map(change => changeToMutation(change, now)), collection.state, key, {
      external: media && (plain => media.upload(plain)),
      inPlace: true, // a phone patch is always accepted: no copy of a large index map per patch
    });
    this.append('regular_low', collection, [patch], state, mutations, this.phoneJid);
  }

  /**
   * A large history at once (what an account's snapshot holds): `inputs` encrypted under `keyId` as the records of
   * regular_low at `version`, compacted into a snapshot on the media host. Only on an empty collection. Each record is
   * encrypted once; the keys are expanded once.
   */
  seedSnapshot(inputs: MutationInput[], options: { keyId: string; version: number; byDevice?: string }): void {
    const collection = this.collections.get('regular_low')!;
    if (collection.state.version !== 0 || collection.patches.length) throw new Error('seedSnapshot needs an empty regular_low collection');
    if (!Number.isSafeInteger(options.version) || options.version < 1) throw new Error('seedSnapshot needs a version ≥ 1');
    const key = withExpandedKeys(this.key(options.keyId));
    const mutations = encryptRecords(inputs, key);
    const state = newCollectionState();
    state.version = options.version;
    mixRecords(state, mutations);
    collection.state = state;
    collection.base = options.version;
    this.track(collection, mutations, options.byDevice ?? this.phoneJid);
    this.compact('regular_low', { keyId: options.keyId });
  }

  /**
   * Compaction: a SyncdSnapshot of every current record at the current version (mac under the newest key, or
   * `keyId`), encrypted as md-app-state on the media host. The patches up to that version are dropped, as on the real
   * server: a client behind it can only catch up through the snapshot.
   */
  compact(name = 'regular_low', options: { keyId?: string } = {}): { version: number; directPath: string } {
    const collection = this.collections.get(name);
    if (!collection) throw new Error(`unknown collection "${name}"`);
    const media = this.options.media;
    if (!media) throw new Error('compaction needs a media host');
    const key = options.keyId ? this.key(options.keyId) : this.newestKey();
    const ref = media.upload(encodeSnapshot(name, collection.state, collection.records.values(), key));
    collection.snapshot = {
      version: collection.state.version,
      ref: proto.ExternalBlobReference.encode(ref).finish(),
      directPath: ref.directPath!,
      keyId: Buffer.from(key.id).toString('base64'),
    };
    collection.patches = [];
    collection.base = collection.state.version;
    return { version: collection.snapshot.version, directPath: collection.snapshot.directPath };
  }

  /** The latest snapshot of a collection, if it was ever compacted. */
  snapshotInfo(name = 'regular_low'): { version: number; directPath: string; keyId: string; ref: Uint8Array } | undefined {
    const snapshot = this.collections.get(name)?.snapshot;
    return snapshot && { ...snapshot };
  }

  /** The server's LT hash of a collection (128 bytes) and its number of indexes. */
  collectionState(name = 'regular_low'): { version: number; hash: Buffer; entries: number } {
    const state = this.collections.get(name)?.state ?? newCollectionState();
    return { version: state.version, hash: Buffer.from(state.hash), entries: state.indexValueMap.size };
  }

  /** Every chat with decoded app state, in order of first change (seeded ones included). */
  chatList(): Array<{ chatJid: string } & ChatAppState> {
    return [...this.chats].map(([chatJid, chat]) => ({ chatJid, ...chat }));
  }

  /** Chats pinned now, oldest pin first. */
  pinnedChats(): { chatJid: string; pinnedAt: number }[] {
    return [...this.chats].filter(([, chat]) => chat.pinned).map(([chatJid, chat]) => ({ chatJid, pinnedAt: chat.pinnedAt ?? 0 })).sort((a, b) => a.pinnedAt - b.pinnedAt);
  }

  /** Runs `hook` right before the next upload built on the current version is checked (race injection). */
  beforeNextUpload(hook: () => void | Promise<void>): void {
    this.hook = hook;
  }

  chatState(chatJid: string): ChatAppState | undefined {
    const chat = this.chats.get(chatJid);
    return chat && { ...chat };
  }

  version(collection: string): number {
    return this.collections.get(collection)?.state.version ?? 0;
  }

  private async handleCollection(node: BinaryNode, deviceJid: string): Promise<BinaryNode> {
    const name = node.attrs.name ?? '';
    const collection = this.collections.get(name);
    if (!collection) return this.reject(name, 0, deviceJid, 'unknown-collection', `unknown collection "${name}"`);
    const base = Number(node.attrs.version ?? 0);
    if (!Number.isSafeInteger(base) || base < 0) return this.reject(name, collection.state.version, deviceJid, 'bad-version', `version="${node.attrs.version}"`);
    const uploads = getBinaryNodeChildren(node, 'patch');
    if (!uploads.length) {
      if (base > collection.state.version) {
        this.violation(deviceJid, 'version-ahead', `${name}: resync from v${base} but the server is at v${collection.state.version}`);
      }
      const from = Math.min(base, collection.state.version);
      const snapshot = collection.snapshot;
      // A snapshot when asked for one, and whenever the patches the client needs were compacted away.
      if (snapshot && (node.attrs.return_snapshot === 'true' || from < snapshot.version)) return this.snapshotAnswer(name, collection, {});
      return this.patchesAfter(name, collection, from, {});
    }
    if (base === collection.state.version && this.hook) {
      const hook = this.hook;
      this.hook = undefined;
      await hook();
    }
    const current = collection.state.version;
    if (base < current) {
      const conflict = { tag: 'error', attrs: { code: '409', text: 'conflict' } };
      if (base < collection.base) return this.snapshotAnswer(name, collection, { type: 'error' }, conflict);
      return this.patchesAfter(name, collection, base, { type: 'error' }, conflict);
    }
    if (base > current) return this.reject(name, current, deviceJid, 'version-ahead', `${name}: upload on v${base} but the server is at v${current}`);
    let state = collection.state;
    const mutations: DecodedMutation[] = [];
    const stored: Uint8Array[] = [];
    for (const upload of uploads) {
      if (!(upload.content instanceof Uint8Array)) return this.reject(name, current, deviceJid, 'malformed-patch', `${name}: <patch> without bytes`);
      try {
        const getKey = (id: Uint8Array) => this.keys.get(Buffer.from(id).toString('base64'))?.data;
        const verified = verifyPatch(name, upload.content, state, getKey, ref => this.options.media?.read(ref));
        this.checkUploadKey(deviceJid, name, upload.content, state.version + 1);
        state = verified.state;
        mutations.push(...verified.mutations);
        // stored = the uploaded bytes plus the version the server assigned (a later non-repeated field wins in protobuf)
        stored.push(Buffer.concat([upload.content, proto.SyncdPatch.encode({ version: { version: state.version } }).finish()]));
      } catch (error) {
        if (!(error instanceof PatchVerificationError)) throw error;
        return this.reject(name, current, deviceJid, error.kind, `${name} v${state.version}→v${state.version + 1}: ${error.message}`);
      }
    }
    this.append(name, collection, stored, state, mutations, deviceJid);
    return { tag: 'collection', attrs: { name, version: String(state.version) } };
  }

  /** An upload under an older key than the newest one the device holds: accepted (the real server cannot tell), but flagged. */
  private checkUploadKey(deviceJid: string, name: string, patch: Uint8Array, version: number): void {
    const held = this.options.deviceKeys?.(deviceJid);
    if (!held?.size) return;
    const used = Buffer.from(proto.SyncdPatch.decode(patch).keyId?.id ?? []).toString('base64');
    const newest = [...held].map(id => this.keys.get(id)).filter(key => !!key).sort((a, b) => b.timestamp - a.timestamp)[0];
    const newestId = newest && Buffer.from(newest.id).toString('base64');
    if (newestId && used !== newestId) {
      this.violation(deviceJid, 'old-app-state-key', `${name} v${version}: encrypted under key ${used}, but the device holds the newer ${newestId} (upload with the newest key by timestamp)`);
    }
  }

  private append(name: string, collection: Collection, patches: Uint8Array[], state: CollectionState, mutations: DecodedMutation[], deviceJid: string): void {
    collection.patches.push(...patches);
    collection.state = state;
    this.track(collection, mutations, deviceJid);
    this.options.onAppend?.(name, deviceJid, mutations);
  }

  /** Keeps the latest record of every index and the decoded per-chat state. */
  private track(collection: Collection, mutations: DecodedMutation[], deviceJid: string): void {
    for (const { operation, index, value, indexMac, record } of mutations) {
      const key = indexMac.toString('base64');
      if (operation === 'remove') collection.records.delete(key);
      else collection.records.set(key, record);
      const [action, chatJid] = index;
      if (!chatJid || (action !== 'pin_v1' && action !== 'archive' && action !== 'markChatAsRead')) continue;
      const chat = this.chats.get(chatJid) ?? { pinned: false };
      if (action === 'pin_v1') {
        chat.pinned = operation === 'set' && !!value.pinAction?.pinned;
        chat.pinnedAt = chat.pinned ? toNumber(value.timestamp) : undefined;
        chat.byDevice = deviceJid;
      } else if (action === 'archive') {
        chat.archived = operation === 'set' && !!value.archiveChatAction?.archived;
      } else {
        chat.read = operation === 'set' && !!value.markChatAsReadAction?.read;
      }
      this.chats.set(chatJid, chat);
    }
  }

  /** <collection name version=current [has_more_patches] {extra}>{error}<patches>…</patches></collection> */
  private patchesAfter(name: string, collection: Collection, from: number, extra: Record<string, string>, error?: BinaryNode): BinaryNode {
    const offset = from - collection.base;
    const page = collection.patches.slice(offset, offset + this.pageSize);
    const attrs: Record<string, string> = { name, version: String(collection.state.version), ...extra };
    if (offset + page.length < collection.patches.length) attrs.has_more_patches = 'true';
    const content: BinaryNode[] = error ? [error] : [];
    if (page.length) content.push({ tag: 'patches', attrs: {}, content: page.map(bytes => ({ tag: 'patch', attrs: {}, content: bytes })) });
    return { tag: 'collection', attrs, content };
  }

  /** <collection name version=current [has_more_patches] {extra}>{error}<snapshot>{ExternalBlobReference}</snapshot><patches>(first page after the snapshot)</patches></collection> */
  private snapshotAnswer(name: string, collection: Collection, extra: Record<string, string>, error?: BinaryNode): BinaryNode {
    const snapshot = collection.snapshot!;
    const answer = this.patchesAfter(name, collection, snapshot.version, extra, error);
    const content = answer.content as BinaryNode[];
    content.splice(error ? 1 : 0, 0, { tag: 'snapshot', attrs: {}, content: snapshot.ref });
    return answer;
  }

  private reject(name: string, version: number, deviceJid: string, kind: string, detail: string): BinaryNode {
    this.violation(deviceJid, kind, detail);
    return {
      tag: 'collection',
      attrs: { name, type: 'error', version: String(version) },
      content: [{ tag: 'error', attrs: { code: '400', text: 'bad-request' } }],
    };
  }

  private violation(deviceJid: string, kind: string, detail: string): void {
    this.violations.push({ at: this.now(), deviceJid, kind, detail });
  }
}
