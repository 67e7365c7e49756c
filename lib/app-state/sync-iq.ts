/**
 * The `w:sync:app:state` IQs of one collection and how their answers read. Only an explicit
 * per-collection success counts as accepted (Baileys' own query sees only a top-level <error>).
 */
import { getBinaryNodeChild, getBinaryNodeChildren, proto, S_WHATSAPP_NET, type BinaryNode } from '@whiskeysockets/baileys';

/** What WhatsApp said about one collection of a sync IQ. */
export interface SyncAnswer {
  /** Accepted upload, or a resync answer. */
  status: 'ok' | 'conflict' | 'rejected';
  /** The error code and text of a rejection. */
  reason?: string;
  /** The server's version of the collection, when it says. */
  version?: number;
  hasMore: boolean;
  /** The snapshot, by reference (downloaded from the media host). */
  snapshot?: proto.IExternalBlobReference;
  patches: proto.ISyncdPatch[];
}

const syncIq = (collection: BinaryNode): BinaryNode => ({
  tag: 'iq',
  attrs: { to: S_WHATSAPP_NET, xmlns: 'w:sync:app:state', type: 'set' },
  content: [{ tag: 'sync', attrs: {}, content: [collection] }],
});

/** Asks for the collection's patches after `version` (`snapshot`: the whole collection, by reference, as from version 0). */
export const resyncIq = (name: string, version: number, snapshot = false): BinaryNode =>
  syncIq({ tag: 'collection', attrs: { name, version: String(version), return_snapshot: String(snapshot) } });

/** Uploads one patch built on `version`. */
export const uploadIq = (name: string, version: number, patch: proto.ISyncdPatch): BinaryNode =>
  syncIq({
    tag: 'collection',
    attrs: { name, version: String(version), return_snapshot: 'false' },
    content: [{ tag: 'patch', attrs: {}, content: proto.SyncdPatch.encode(patch).finish() }],
  });

const bytes = (content: BinaryNode['content']): Uint8Array | undefined => (content instanceof Uint8Array ? content : undefined);

/** Reads the answer for collection `name` (a missing collection is a rejection). */
export function readSyncAnswer(result: BinaryNode, name: string): SyncAnswer {
  const collection = getBinaryNodeChildren(getBinaryNodeChild(result, 'sync'), 'collection').find((node) => node.attrs.name === name);
  if (!collection) return { status: 'rejected', reason: 'answer without the collection', hasMore: false, patches: [] };
  const version = collection.attrs.version === undefined ? undefined : Number(collection.attrs.version);
  const hasMore = collection.attrs.has_more_patches === 'true';
  const error = getBinaryNodeChild(collection, 'error');
  const status = collection.attrs.type !== 'error' ? 'ok' : error?.attrs.code === '409' ? 'conflict' : 'rejected';
  const reason = status === 'rejected' ? `${error?.attrs.code ?? 'unknown'} ${error?.attrs.text ?? ''}`.trim() : undefined;
  const snapshotBytes = bytes(getBinaryNodeChild(collection, 'snapshot')?.content);
  const patches = getBinaryNodeChildren(getBinaryNodeChild(collection, 'patches') ?? collection, 'patch').flatMap((node) => {
    const content = bytes(node.content);
    return content ? [proto.SyncdPatch.decode(content)] : [];
  });
  return { status, reason, version, hasMore, snapshot: snapshotBytes && proto.ExternalBlobReference.decode(snapshotBytes), patches };
}
