/**
 * One account's app-state (syncd) store on the simulated server: per collection a version and the ordered
 * patches, answering `w:sync:app:state` <sync> requests as the real server does (resync pages, 409 on a stale
 * base, per-collection errors), verifying every uploaded patch with node:crypto (./app-state-crypto.ts) and
 * keeping the decoded per-chat state. The simulated phone mutates through phoneMutate.
 */
import { getBinaryNodeChildren, proto, type BinaryNode } from '@whiskeysockets/baileys';
import {
  encodePatch,
  newCollectionState,
  PatchVerificationError,
  verifyPatch,
  type CollectionState,
  type DecodedMutation,
} from './app-state-crypto.js';

export const APP_STATE_COLLECTIONS = ['critical_block', 'critical_unblock_low', 'regular_high', 'regular', 'regular_low'] as const;

export interface ChatAppState {
  pinned: boolean;
  /** the pin action's timestamp (ms, from the patch) while pinned */
  pinnedAt?: number;
  /** device jid that last pinned/unpinned the chat ('phone' or the phone jid for the primary) */
  byDevice?: string;
  archived?: boolean;
}

export interface AppStateViolation {
  at: number;
  deviceJid?: string;
  kind: string;
  detail: string;
}

interface Collection {
  state: CollectionState;
  /** patches[i] moved the collection to version i + 1; bytes = the SyncdPatch as uploaded with its version appended */
  patches: Uint8Array[];
}

const toNumber = (n: number | { toNumber(): number } | null | undefined): number | undefined =>
  n === null || n === undefined ? undefined : typeof n === 'number' ? n : n.toNumber();

export class AppStateServer {
  readonly violations: AppStateViolation[] = [];
  private readonly now: () => number;
  private readonly pageSize: number;
  private readonly phoneJid: string;
  private readonly keys = new Map<string, { id: Uint8Array; data: Uint8Array; timestamp: number }>();
  private readonly collections = new Map<string, Collection>(APP_STATE_COLLECTIONS.map(name => [name, { state: newCollectionState(), patches: [] }]));
  private readonly chats = new Map<string, ChatAppState>();
  private hook: (() => void | Promise<void>) | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** pageSize: patches per resync answer (has_more_patches beyond it); phoneJid: byDevice of phone mutations. */
  constructor(options: { now?: () => number; pageSize?: number; phoneJid?: string } = {}) {
    this.now = options.now ?? Date.now;
    this.pageSize = options.pageSize ?? 50;
    this.phoneJid = options.phoneJid ?? 'phone';
  }

  addKey(keyId: Uint8Array, keyData: Uint8Array, timestamp: number): void {
    this.keys.set(Buffer.from(keyId).toString('base64'), { id: Uint8Array.from(keyId), data: Uint8Array.from(keyData), timestamp });
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

  /** The phone changes app state: a real patch in regular_low, encrypted with the account's latest key. */
  phoneMutate(m: { action: 'pin' | 'archive'; chatJid: string; value: boolean }): void {
    const key = [...this.keys.values()].sort((a, b) => b.timestamp - a.timestamp)[0];
    if (!key) throw new Error('the account has no app-state sync key');
    const timestamp = this.now();
    const input =
      m.action === 'pin'
        ? { index: ['pin_v1', m.chatJid], value: { pinAction: { pinned: m.value }, timestamp }, apiVersion: 5 }
        : { index: ['archive', m.chatJid], value: { archiveChatAction: { archived: m.value }, timestamp }, apiVersion: 3 };
    const collection = this.collections.get('regular_low')!;
    const { patch, state, mutations } = encodePatch('regular_low', [{ operation: 'set', ...input }], collection.state, key);
    this.append(collection, [patch], state, mutations, this.phoneJid);
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
      return this.patchesAfter(name, collection, Math.min(base, collection.state.version), {});
    }
    if (base === collection.state.version && this.hook) {
      const hook = this.hook;
      this.hook = undefined;
      await hook();
    }
    const current = collection.state.version;
    if (base < current) {
      return this.patchesAfter(name, collection, base, { type: 'error' }, { tag: 'error', attrs: { code: '409', text: 'conflict' } });
    }
    if (base > current) return this.reject(name, current, deviceJid, 'version-ahead', `${name}: upload on v${base} but the server is at v${current}`);
    let state = collection.state;
    const mutations: DecodedMutation[] = [];
    const stored: Uint8Array[] = [];
    for (const upload of uploads) {
      if (!(upload.content instanceof Uint8Array)) return this.reject(name, current, deviceJid, 'malformed-patch', `${name}: <patch> without bytes`);
      try {
        const verified = verifyPatch(name, upload.content, state, id => this.keys.get(Buffer.from(id).toString('base64'))?.data);
        state = verified.state;
        mutations.push(...verified.mutations);
        // stored = the uploaded bytes plus the version the server assigned (a later non-repeated field wins in protobuf)
        stored.push(Buffer.concat([upload.content, proto.SyncdPatch.encode({ version: { version: state.version } }).finish()]));
      } catch (error) {
        if (!(error instanceof PatchVerificationError)) throw error;
        return this.reject(name, current, deviceJid, error.kind, `${name} v${state.version}→v${state.version + 1}: ${error.message}`);
      }
    }
    this.append(collection, stored, state, mutations, deviceJid);
    return { tag: 'collection', attrs: { name, version: String(state.version) } };
  }

  private append(collection: Collection, patches: Uint8Array[], state: CollectionState, mutations: DecodedMutation[], deviceJid: string): void {
    collection.patches.push(...patches);
    collection.state = state;
    for (const { operation, index, value } of mutations) {
      const [action, chatJid] = index;
      if (!chatJid || (action !== 'pin_v1' && action !== 'archive')) continue;
      const chat = this.chats.get(chatJid) ?? { pinned: false };
      if (action === 'pin_v1') {
        chat.pinned = operation === 'set' && !!value.pinAction?.pinned;
        chat.pinnedAt = chat.pinned ? toNumber(value.timestamp) : undefined;
        chat.byDevice = deviceJid;
      } else {
        chat.archived = operation === 'set' && !!value.archiveChatAction?.archived;
      }
      this.chats.set(chatJid, chat);
    }
  }

  /** <collection name version=current [has_more_patches] {extra}>{error}<patches>…</patches></collection> */
  private patchesAfter(name: string, collection: Collection, from: number, extra: Record<string, string>, error?: BinaryNode): BinaryNode {
    const page = collection.patches.slice(from, from + this.pageSize);
    const attrs: Record<string, string> = { name, version: String(collection.state.version), ...extra };
    if (from + page.length < collection.patches.length) attrs.has_more_patches = 'true';
    const content: BinaryNode[] = error ? [error] : [];
    if (page.length) content.push({ tag: 'patches', attrs: {}, content: page.map(bytes => ({ tag: 'patch', attrs: {}, content: bytes })) });
    return { tag: 'collection', attrs, content };
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
