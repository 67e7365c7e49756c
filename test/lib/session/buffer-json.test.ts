import { describe, expect, it } from '@jest/globals';
import { BufferJSON as baileys, initAuthCreds, proto } from '@whiskeysockets/baileys';
import { BufferJSON as ours } from '../../../lib/session/buffer-json.js';

/** Shapes a session holds, and the edge cases of Baileys' rules. */
const values: Record<string, unknown> = {
  creds: initAuthCreds(),
  buffer: Buffer.from('key material'),
  uint8Array: new Uint8Array([1, 2, 255]),
  emptyBuffer: Buffer.alloc(0),
  nested: { a: [Buffer.from([7]), { b: new Uint8Array([8, 9]) }], c: 'text', d: 3, e: null, f: true },
  appStateKey: proto.Message.AppStateSyncKeyData.fromObject({ keyData: Buffer.from('k'), timestamp: 1700000000000 }),
  numberedBytes: { 0: 1, 1: 2, 2: 3 },
  numberedMixed: { 0: 1, 1: 'x' },
  numberedKeysOnly: { '12': 5, '3x': 6 },
  emptyObject: {},
  array: [1, 2, 3],
  bufferLike: { type: 'Buffer', data: [4, 5] },
  knownChats: [['15550100002@s.whatsapp.net', 1764547200000]],
};

describe("the session store's BufferJSON", () => {
  it.each(Object.keys(values))('writes %s as Baileys does', (name) => {
    // Act
    const [mine, theirs] = [JSON.stringify(values[name], ours.replacer), JSON.stringify(values[name], baileys.replacer)];
    // Assess
    expect(mine).toBe(theirs);
  });

  it.each(Object.keys(values))('reads %s, as Baileys wrote it, as Baileys does', (name) => {
    // Prepare
    const text = JSON.stringify(values[name], baileys.replacer);
    // Act
    const [mine, theirs] = [JSON.parse(text, ours.reviver), JSON.parse(text, baileys.reviver)];
    // Assess
    expect(mine).toEqual(theirs);
    expect(JSON.stringify(mine, ours.replacer)).toBe(JSON.stringify(theirs, baileys.replacer));
  });

  it('reads plain JSON of numbered bytes and of Buffer objects as Baileys does', () => {
    // Prepare
    const texts = ['{"0":1,"1":2}', '{"type":"Buffer","data":"AQI="}', '{"type":"Buffer","data":[1,2]}', '[{"0":255}]', '{"a":{"1":0}}', '{"0":1,"b":2}'];
    // Act
    const read = texts.map((text) => [JSON.parse(text, ours.reviver), JSON.parse(text, baileys.reviver)]);
    // Assess
    for (const [mine, theirs] of read) expect(mine).toEqual(theirs);
    expect(Buffer.isBuffer(read[0]![0])).toBe(true);
  });
});
