import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { AppStateCollection, type CollectionMeta } from '../../../lib/app-state/collection.js';
import type { DecodedMutation } from '../../../lib/app-state/sync-codec.js';

const mac = () => randomBytes(32).toString('base64');
const pinMutation = (chat: string, pinned: boolean, at: number, indexMac = mac()): DecodedMutation => ({
  operation: 'set',
  indexMac,
  valueMac: randomBytes(32),
  index: ['pin_v1', chat],
  value: { pinAction: { pinned }, timestamp: at },
});
const meta = (overrides: Partial<CollectionMeta> = {}): CollectionMeta => ({ version: 7, hash: randomBytes(128).toString('base64'), generation: 'g1', pins: [['a', 1]], pinsVersion: 7, ...overrides });

/** A stored generation of entries, and every read made of it. */
function storedEntries(entries: Record<string, Buffer>) {
  const reads: string[][] = [];
  return {
    reads,
    read: async (generation: string, macs: string[]) => {
      reads.push(macs.map((m) => `${generation}.${m}`));
      return new Map(macs.flatMap((m) => (entries[m] ? [[m, entries[m]!] as const] : [])));
    },
  };
}

describe('AppStateCollection', () => {
  it('reads only the entries a change touches, once, and commits only those with the meta', async () => {
    // Prepare
    const known = mac();
    const stored = storedEntries({ [known]: randomBytes(32) });
    const collection = AppStateCollection.restore(meta(), stored.read);
    // Act
    await collection.load([known, known]);
    await collection.load([known]);
    const update = pinMutation('b', true, 5, known);
    collection.apply({ version: 8, hash: randomBytes(128), mutations: [update] }, 'patch');
    const changes = collection.changes();
    // Assess
    expect(stored.reads).toEqual([[`g1.${known}`]]);
    expect(changes!.entries).toEqual({ [`g1.${known}`]: update.valueMac.toString('base64') });
    expect(changes!.meta).toMatchObject({ version: 8, generation: 'g1', pins: [['a', 1], ['b', 5]], pinsVersion: 8 });
    expect(collection.changes()).toBeUndefined();
  });

  it('an entry that was not loaded cannot be read (a pin must never guess an absent entry)', () => {
    const collection = AppStateCollection.restore(meta(), storedEntries({}).read);
    expect(() => collection.valueOf(mac())).toThrow('was not loaded');
  });

  it('pinned chats stay exact only while every patch since their version is seen', () => {
    // Prepare: stored before this layout (or after a failure): no exact version
    const incomplete = AppStateCollection.restore(meta({ pinsVersion: undefined }), storedEntries({}).read);
    const exact = AppStateCollection.restore(meta(), storedEntries({}).read);
    // Act
    for (const collection of [incomplete, exact]) collection.apply({ version: 8, hash: randomBytes(128), mutations: [pinMutation('b', true, 2)] }, 'patch');
    // Assess
    expect(incomplete.pinsExact).toBe(false);
    expect(exact.pinsExact).toBe(true);
    expect([...exact.pins.keys()]).toEqual(['a', 'b']);
  });

  it('a full sync starts a new generation; the old one becomes stale once replaced', () => {
    // Prepare
    const previous = AppStateCollection.restore(meta(), storedEntries({}).read);
    // Act
    const fresh = AppStateCollection.fresh(previous);
    fresh.apply({ version: 40, hash: randomBytes(128), mutations: [pinMutation('x', true, 1), pinMutation('x', true, 9), pinMutation('y', false, 3)] }, 'snapshot');
    // Assess
    expect(fresh.generation).not.toBe('g1');
    expect(fresh.stale).toEqual(['g1']);
    expect([...fresh.pins]).toEqual([['x', 9]]);
    expect(fresh.pinsExact).toBe(true);
    expect(fresh.valueOf(mac())).toBeNull();
    expect(() => fresh.changes()).toThrow('must be written');
    expect(Object.keys(fresh.entries())).toHaveLength(3);
    expect(Object.keys(fresh.entries())[0]).toMatch(new RegExp(`^${fresh.generation}\\.`));
    fresh.written();
    expect(fresh.changes()!.entries).toEqual({});
  });

  it('a snapshot: the newest record of a chat decides, whatever the order (one record per key it was written under)', () => {
    const fresh = AppStateCollection.fresh(AppStateCollection.restore(undefined, storedEntries({}).read));
    fresh.apply({ version: 3, hash: randomBytes(128), mutations: [pinMutation('a', false, 20), pinMutation('a', true, 10), pinMutation('b', true, 5)] }, 'snapshot');
    expect([...fresh.pins]).toEqual([['b', 5]]);
  });
});
