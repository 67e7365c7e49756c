/**
 * The JSON form of stored sessions: Baileys' `BufferJSON`, rule for rule (binary values as
 * `{ "type": "Buffer", "data": "<base64>" }`), so that what Baileys writes (useMultiFileAuthState folders)
 * and what the store writes read the same. It lives here because Baileys' own pulls in Baileys' whole
 * runtime (libsignal, pino, WAProto's users): the store, which every cold start loads first, needs none of
 * it. test/lib/session/buffer-json.test.ts holds it to Baileys' on every shape.
 */
type Json = unknown;

const isBinary = (value: Json): value is Uint8Array | { type: 'Buffer'; data: unknown } =>
  value instanceof Uint8Array || (value as { type?: unknown } | null)?.type === 'Buffer';

export const BufferJSON = {
  replacer(_key: string, value: Json): Json {
    if (!isBinary(value)) return value;
    return { type: 'Buffer', data: Buffer.from(((value as { data?: unknown }).data || value) as Uint8Array).toString('base64') };
  },
  reviver(_key: string, value: Json): Json {
    if (typeof value !== 'object' || value === null) return value;
    const { type, data } = value as { type?: unknown; data?: unknown };
    if (type === 'Buffer' && typeof data === 'string') return Buffer.from(data, 'base64');
    // Baileys also reads an object of numbered bytes ({ "0": 1, "1": 2 }, a Uint8Array once serialised by plain JSON) as binary.
    if (Array.isArray(value)) return value;
    const keys = Object.keys(value);
    if (keys.length > 0 && keys.every((key) => !Number.isNaN(Number.parseInt(key, 10)))) {
      const values = Object.values(value);
      if (values.every((entry) => typeof entry === 'number')) return Buffer.from(values as number[]);
    }
    return value;
  },
};
