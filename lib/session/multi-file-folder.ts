import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuthenticationCreds } from '@whiskeysockets/baileys';
import type { CollectionMeta } from '../app-state/collection.js';
import { BufferJSON } from './buffer-json.js';
import type { DynamoDbSessionStore } from './dynamodb-session-store.js';
import type { DeviceSummary, KeyChanges, KeyType } from './session-store.js';

/** Longest first, so that `sender-key-memory-…` is not read as a `sender-key`. `app-state-meta` is ours (Baileys ignores it). */
const KEY_TYPES: KeyType[] = (
  ['pre-key', 'session', 'sender-key', 'sender-key-memory', 'app-state-sync-key', 'app-state-sync-version', 'app-state-meta', 'lid-mapping', 'device-list', 'tctoken', 'identity-key'] as KeyType[]
).sort((a, b) => b.length - a.length);

type StoredKey = { type: KeyType; id: string; json: string };

/**
 * The collections stored as data (a meta and one entry per index MAC) folded back into Baileys'
 * `app-state-sync-version` value (its whole index → value MAC map, keys sorted), beside the meta.
 */
function toBaileysAppState(keys: StoredKey[]): StoredKey[] {
  const metas = keys.filter((key) => key.type === 'app-state-meta');
  const folded = metas.map(({ id, json }): StoredKey => {
    const meta = JSON.parse(json) as CollectionMeta;
    const prefix = `${meta.generation}.`;
    const macs = keys.filter((key) => key.type === 'app-state-entry' && key.id.startsWith(prefix)).sort((a, b) => a.id.localeCompare(b.id));
    const indexValueMap = Object.fromEntries(macs.map((key) => [key.id.slice(prefix.length), { valueMac: { type: 'Buffer', data: JSON.parse(key.json) as string } }]));
    return { type: 'app-state-sync-version', id, json: JSON.stringify({ version: meta.version, hash: { type: 'Buffer', data: meta.hash }, indexValueMap }) };
  });
  const replaced = new Set(metas.map((meta) => meta.id));
  return [...keys.filter((key) => key.type !== 'app-state-entry' && !(key.type === 'app-state-sync-version' && replaced.has(key.id))), ...folded];
}

/**
 * The reverse on import: a Baileys map that comes with our meta (an export of ours, same version and hash)
 * becomes the meta and its entries again; one without (a plain Baileys folder) stays Baileys' value, and
 * the session migrates on its next pin (a full sync).
 */
function fromBaileysAppState(keys: KeyChanges): void {
  for (const [id, meta] of Object.entries(keys['app-state-meta'] ?? {})) {
    const map = keys['app-state-sync-version']?.[id];
    if (!meta || !map || map.version !== meta.version || Buffer.from(map.hash).toString('base64') !== meta.hash) continue;
    for (const [mac, { valueMac }] of Object.entries(map.indexValueMap)) (keys['app-state-entry'] ??= {})[`${meta.generation}.${mac}`] = Buffer.from(valueMac).toString('base64');
    delete keys['app-state-sync-version']![id];
  }
}

/** Baileys' useMultiFileAuthState file name: `/` → `__`, `:` → `-`. */
export function multiFileName(type: KeyType, id: string): string {
  return `${type}-${id}.json`.replace(/\//g, '__').replace(/:/g, '-');
}

/**
 * The key behind a useMultiFileAuthState file name. The naming is lossy; ids are restored where
 * their form is known: `/` only occurs in app-state key ids (base64), `:` only in sender-key names
 * (`group::user::device`). Other ids are taken as written.
 */
export function parseMultiFileName(file: string): { type: KeyType; id: string } | undefined {
  const type = KEY_TYPES.find((candidate) => file.startsWith(`${candidate}-`) && file.endsWith('.json'));
  if (!type) return undefined;
  const written = file.slice(type.length + 1, -'.json'.length);
  const id = type === 'app-state-sync-key' ? written.replace(/__/g, '/') : type === 'sender-key' ? written.replace(/--/g, '::') : written;
  return { type, id };
}

/**
 * Imports a useMultiFileAuthState folder as a new device. Refused if the device already has a session, and, unless
 * `force`, if the folder's companion (same `me` and noise key) is already stored under another device id: two
 * sessions of one companion knock each other off WhatsApp (440, connection replaced).
 */
export async function importFolder(store: DynamoDbSessionStore, deviceId: string, folder: string, options: { force?: boolean } = {}): Promise<{ keys: number; skipped: string[] }> {
  const files = await readdir(folder);
  if (!files.includes('creds.json')) throw new Error(`${folder} has no creds.json: pass a Baileys useMultiFileAuthState folder`);
  const { state } = await store.load(deviceId);
  if (state !== 'absent') {
    throw new Error(`device ${deviceId} already has a session (${state}): delete it first (npm run session -- delete --device ${deviceId}) or import under another --device`);
  }
  const parse = async (file: string) => JSON.parse(await readFile(join(folder, file), 'utf8'), BufferJSON.reviver);
  const creds = (await parse('creds.json')) as AuthenticationCreds;
  const twin = options.force ? undefined : await storedCompanion(store, creds);
  if (twin) {
    throw new Error(`${folder} holds companion ${creds.me!.id}, already stored as device ${twin.deviceId} (${twin.state}); two sessions of one companion ` +
      `knock each other off WhatsApp (440, connection replaced). Use device ${twin.deviceId}, delete it first, or pass --force to import a second copy anyway`);
  }
  const keys: KeyChanges = {};
  const skipped: string[] = [];
  let count = 0;
  for (const file of files.filter((name) => name !== 'creds.json')) {
    const key = parseMultiFileName(file);
    if (!key) {
      skipped.push(file);
      continue;
    }
    ((keys[key.type] ??= {}) as Record<string, unknown>)[key.id] = await parse(file);
    count++;
  }
  fromBaileysAppState(keys);
  // Entries are many and named by the meta's generation: nothing reads them before the commit stores the meta.
  const { 'app-state-entry': entries, ...rest } = keys;
  if (entries) await store.putUnfenced(deviceId, 'app-state-entry', entries as Record<string, string>);
  const lease = await store.acquireLease(deviceId, `session-cli-import-${randomUUID()}`, 300);
  await store.commit(lease, { creds, keys: rest });
  return { keys: count, skipped };
}

/** The stored device that is this companion: the same linked JID and noise key. */
async function storedCompanion(store: DynamoDbSessionStore, creds: AuthenticationCreds): Promise<DeviceSummary | undefined> {
  if (!creds.me?.id) return undefined;
  for (const device of await store.list()) {
    if (device.linkedJid !== creds.me.id) continue;
    const stored = (await store.load(device.deviceId)).creds;
    if (stored && Buffer.from(stored.noiseKey.public).equals(Buffer.from(creds.noiseKey.public))) return device;
  }
  return undefined;
}

/**
 * Exports a device into a new or empty folder as useMultiFileAuthState files (the JSON texts as stored), readable
 * by the owner only (folder 700, files 600): they hold the device's private keys.
 */
export async function exportFolder(store: DynamoDbSessionStore, deviceId: string, folder: string): Promise<{ keys: number }> {
  const device = await store.exportDevice(deviceId);
  if (!device.creds) throw new Error(`device ${deviceId} has no session: nothing to export (npm run session -- list shows the devices)`);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  if ((await readdir(folder)).length) throw new Error(`${folder} is not empty: export into a new or empty folder, so that no other device's files mix in`);
  await chmod(folder, 0o700);
  const write = (file: string, json: string) => writeFile(join(folder, file), json, { mode: 0o600 });
  await write('creds.json', device.creds);
  const keys = toBaileysAppState(device.keys);
  for (const { type, id, json } of keys) await write(multiFileName(type, id), json);
  return { keys: keys.length };
}
