import {
  chatModificationToAppPatch,
  decodePatches,
  decodeSyncdSnapshot,
  encodeSyncdPatch,
  extractSyncdPatches,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  newLTHashState,
  proto,
  S_WHATSAPP_NET,
  type BinaryNode,
  type LTHashState,
  type WAPatchName,
} from '@whiskeysockets/baileys';
import { baileysLogger } from './baileys-logger.js';

export type AppStateKeyLookup = (keyId: string) => Promise<proto.Message.IAppStateSyncKeyData | null | undefined>;

/** What WhatsApp said about one collection of a patch upload. */
export type UploadOutcome =
  | { kind: 'accepted' }
  | { kind: 'conflict' }
  | { kind: 'rejected'; reason: string };

export const PIN_COLLECTION: WAPatchName = 'regular_low';

const syncIq = (collection: BinaryNode): BinaryNode => ({
  tag: 'iq',
  attrs: { to: S_WHATSAPP_NET, xmlns: 'w:sync:app:state', type: 'set' },
  content: [{ tag: 'sync', attrs: {}, content: [collection] }],
});

/** The pin/unpin mutation encoded on top of `state` (Baileys' own encoder), and the IQ that uploads it. */
export async function buildPinUpload(chatJid: string, pinned: boolean, state: LTHashState, keyId: string, getKey: AppStateKeyLookup) {
  const patchCreate = chatModificationToAppPatch({ pin: pinned }, chatJid);
  const encoded = await encodeSyncdPatch(patchCreate, keyId, state, getKey as never);
  const node = syncIq({
    tag: 'collection',
    attrs: { name: patchCreate.type, version: state.version.toString(), return_snapshot: 'false' },
    content: [{ tag: 'patch', attrs: {}, content: proto.SyncdPatch.encode(encoded.patch).finish() }],
  });
  return { node, state: encoded.state };
}

/** Reads WhatsApp's answer for `name` ourselves: only an explicit per-collection success counts as accepted. */
export function readUploadOutcome(result: BinaryNode, name: string): UploadOutcome {
  const collection = getBinaryNodeChildren(getBinaryNodeChild(result, 'sync'), 'collection').find((node) => node.attrs.name === name);
  if (!collection) return { kind: 'rejected', reason: 'answer without the collection' };
  if (collection.attrs.type !== 'error') return { kind: 'accepted' };
  const error = getBinaryNodeChild(collection, 'error');
  if (error?.attrs.code === '409') return { kind: 'conflict' };
  return { kind: 'rejected', reason: `${error?.attrs.code ?? 'unknown'} ${error?.attrs.text ?? ''}`.trim() };
}

/** The resync IQ for one collection from `version`. */
export const resyncNode = (name: string, version: number): BinaryNode =>
  syncIq({ tag: 'collection', attrs: { name, version: version.toString(), return_snapshot: String(version === 0) } });

/**
 * Applies the patches (and snapshot) a sync answer carries for `name` to `state`, verifying their MACs
 * with Baileys' decoder. Returns the new state and whether the server has more.
 */
export async function applySyncAnswer(result: BinaryNode, name: WAPatchName, state: LTHashState, getKey: AppStateKeyLookup) {
  const decoded = (await extractSyncdPatches(result, {}))[name];
  if (!decoded) return { state, hasMore: false, applied: 0 };
  let next = state;
  if (decoded.snapshot) next = (await decodeSyncdSnapshot(name, decoded.snapshot, getKey as never, undefined, true, baileysLogger)).state;
  if (decoded.patches.length) {
    next = (await decodePatches(name, decoded.patches, next, getKey as never, {}, undefined, baileysLogger, true)).state;
  }
  return { state: next, hasMore: decoded.hasMorePatches, applied: decoded.patches.length + (decoded.snapshot ? 1 : 0) };
}

export const emptyState = (): LTHashState => newLTHashState();
