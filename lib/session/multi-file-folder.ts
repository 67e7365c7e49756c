import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BufferJSON, type AuthenticationCreds } from '@whiskeysockets/baileys';
import type { DynamoDbSessionStore } from './dynamodb-session-store.js';
import type { KeyChanges, KeyType } from './session-store.js';

/** Longest first, so that `sender-key-memory-…` is not read as a `sender-key`. */
const KEY_TYPES: KeyType[] = (
  ['pre-key', 'session', 'sender-key', 'sender-key-memory', 'app-state-sync-key', 'app-state-sync-version', 'lid-mapping', 'device-list', 'tctoken', 'identity-key'] as KeyType[]
).sort((a, b) => b.length - a.length);

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

/** Imports a useMultiFileAuthState folder as a new device (refused if the device already has a session). */
export async function importFolder(store: DynamoDbSessionStore, deviceId: string, folder: string): Promise<{ keys: number; skipped: string[] }> {
  const files = await readdir(folder);
  if (!files.includes('creds.json')) throw new Error(`${folder} has no creds.json`);
  if ((await store.load(deviceId)).state !== 'absent') throw new Error(`device ${deviceId} already has a session: delete it first`);
  const parse = async (file: string) => JSON.parse(await readFile(join(folder, file), 'utf8'), BufferJSON.reviver);
  const creds = (await parse('creds.json')) as AuthenticationCreds;
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
  const lease = await store.acquireLease(deviceId, `session-cli-import-${randomUUID()}`, 300);
  await store.commit(lease, { creds, keys });
  return { keys: count, skipped };
}

/** Exports a device into a useMultiFileAuthState folder (the JSON texts as stored). */
export async function exportFolder(store: DynamoDbSessionStore, deviceId: string, folder: string): Promise<{ keys: number }> {
  const device = await store.exportDevice(deviceId);
  if (!device.creds) throw new Error(`device ${deviceId} has no session`);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'creds.json'), device.creds);
  for (const { type, id, json } of device.keys) await writeFile(join(folder, multiFileName(type, id)), json);
  return { keys: device.keys.length };
}
