import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BufferJSON, getNextPreKeys, proto, useMultiFileAuthState } from '@whiskeysockets/baileys';
import { DynamoDbSessionStore } from '../../../lib/session/dynamodb-session-store.js';
import { multiFileName, parseMultiFileName } from '../../../lib/session/multi-file-folder.js';
import { runSessionCli } from '../../../lib/session/session-cli.js';
import { appStateMeta, appStateSyncKey, everyKeyCategory, linkedCreds, localTable } from './session-test-data.js';

let client: DynamoDBClient;
let tableName: string;
let work: string;
let source: string;
const env = () => ({ ...process.env, SESSION_TABLE: tableName });

/** Runs the CLI in-process and returns its exit code and output. */
async function cli(...argv: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runSessionCli(argv, env(), (line) => lines.push(line));
  return { code, output: lines.join('\n') };
}

async function parsedFolder(folder: string): Promise<Record<string, unknown>> {
  const files = (await readdir(folder)).sort();
  return Object.fromEntries(await Promise.all(files.map(async (file) => [file, JSON.parse(await readFile(join(folder, file), 'utf8'))])));
}

/** A folder written by Baileys' own useMultiFileAuthState: linked creds, generated pre-keys, every key category. */
async function baileysFolder(folder: string): Promise<void> {
  const { state, saveCreds } = await useMultiFileAuthState(folder);
  Object.assign(state.creds, { me: linkedCreds().me, myAppStateKeyId: 'AAAAAMtL' });
  const { update } = await getNextPreKeys(state, 30);
  Object.assign(state.creds, update);
  const { 'pre-key': _generated, ...others } = everyKeyCategory();
  await state.keys.set({
    ...others,
    'app-state-sync-key': { AAAAAMtL: appStateSyncKey(), 'ab/cd+ef==': proto.Message.AppStateSyncKeyData.fromObject(appStateSyncKey().toJSON()) },
    'sender-key': { '120363025246125486@g.us::98765432109876_1::0': Buffer.from('sender key state') },
    'sender-key-memory': { '491701234567-1600000000@g.us': { '491709876543:0@s.whatsapp.net': true } },
    tctoken: { __index: { token: Buffer.from('["98765432109876@lid"]') } },
  });
  await saveCreds();
}

beforeAll(async () => {
  ({ client, tableName } = await localTable('session-cli'));
  work = await mkdtemp(join(tmpdir(), 'session-cli-'));
  source = join(work, 'baileys');
  await baileysFolder(source);
});

afterAll(async () => {
  client.destroy();
  await rm(work, { recursive: true, force: true });
});

describe('session CLI', () => {
  it('imports a Baileys folder and exports it back equivalent after parsing', async () => {
    // Prepare
    const exported = join(work, 'exported');
    // Act
    const imported = await cli('import', '--device', 'imported', source);
    const exportedResult = await cli('export', '--device', 'imported', exported);
    // Assess
    expect(imported).toEqual({ code: 0, output: expect.stringMatching(/^imported creds and 42 keys into device imported$/) });
    expect(exportedResult.code).toBe(0);
    const [before, after] = [await parsedFolder(source), await parsedFolder(exported)];
    expect(Object.keys(before)).toHaveLength(43);
    expect(after).toEqual(before);
  });

  it('exports the app-state collection as Baileys\' whole map (beside its meta), and imports it back to the same entries', async () => {
    // Prepare: a session whose collection is stored as data, 500 entries of its generation and one stale one
    const store = new DynamoDbSessionStore(client, tableName);
    const meta = appStateMeta(12);
    const entries = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`${meta.generation}.${createHash('sha256').update(`index ${i}`).digest('base64')}`, createHash('sha256').update(`value ${i}`).digest('base64')]));
    await store.putUnfenced('collection', 'app-state-entry', { ...entries, 'stale-generation.AAAA': 'BBBB' });
    await store.commit(await store.acquireLease('collection', 'setup', 30), { creds: linkedCreds(), keys: { 'app-state-meta': { regular_low: meta } } });
    const [first, second] = [join(work, 'collection-1'), join(work, 'collection-2')];
    // Act
    await cli('export', '--device', 'collection', first);
    await cli('import', '--device', 'collection-copy', first);
    await cli('export', '--device', 'collection-copy', second);
    // Assess
    const baileys = JSON.parse(await readFile(join(first, 'app-state-sync-version-regular_low.json'), 'utf8'), BufferJSON.reviver);
    expect(baileys.version).toBe(12);
    expect(Buffer.from(baileys.hash).toString('base64')).toBe(meta.hash);
    expect(Object.keys(baileys.indexValueMap)).toHaveLength(500);
    expect((await readdir(first)).filter((file) => file.startsWith('app-state-'))).toEqual(['app-state-meta-regular_low.json', 'app-state-sync-version-regular_low.json']);
    expect(await parsedFolder(second)).toEqual(await parsedFolder(first));
    const copied = await store.load('collection-copy');
    expect(copied.keys['app-state-meta']?.regular_low).toEqual(meta);
    expect(copied.keys['app-state-sync-version']).toBeUndefined();
    expect(await store.getKeys('collection-copy', 'app-state-entry', Object.keys(entries).slice(0, 3))).toEqual(Object.fromEntries(Object.entries(entries).slice(0, 3)));
  });

  it('restores the ids Baileys needs from the lossy file names', async () => {
    // Prepare
    const store = new DynamoDbSessionStore(client, tableName);
    await cli('import', '--device', 'restored', source);
    // Act
    const snapshot = await store.load('restored');
    const senderKeys = await store.getKeys('restored', 'sender-key', ['120363025246125486@g.us::98765432109876_1::0']);
    const preKeys = await store.getKeys('restored', 'pre-key', ['1', '30', '31']);
    // Assess
    expect(snapshot.state).toBe('linked');
    expect(snapshot.creds!.nextPreKeyId).toBe(31);
    expect(Object.keys(snapshot.keys['app-state-sync-key']!).sort()).toEqual(['AAAAAMtL', 'ab/cd+ef==']);
    expect(snapshot.keys['app-state-sync-key']!['ab/cd+ef==']!.keyData).toHaveLength(32);
    expect(senderKeys['120363025246125486@g.us::98765432109876_1::0']).toEqual(Buffer.from('sender key state'));
    expect(Object.keys(preKeys).sort()).toEqual(['1', '30']);
    expect(parseMultiFileName(multiFileName('sender-key-memory', '491701234567-1600000000@g.us'))).toEqual({ type: 'sender-key-memory', id: '491701234567-1600000000@g.us' });
  });

  it('refuses to import over an existing session', async () => {
    // Prepare
    await cli('import', '--device', 'twice', source);
    // Act
    const result = cli('import', '--device', 'twice', source);
    // Assess
    await expect(result).rejects.toThrow('device twice already has a session: delete it first');
  });

  it('lists and deletes devices', async () => {
    // Prepare
    const { tableName: table } = await localTable('session-cli-list');
    const store = new DynamoDbSessionStore(client, table);
    await cli('import', '--device', 'imported', source, '--table', table);
    await store.commit(await store.acquireLease('second', 'test', 30), { creds: linkedCreds('491700000002') });
    // Act
    const listed = await cli('list', '--table', table);
    const deleted = await cli('delete', '--device', 'second', '--table', table);
    const after = await cli('list', '--table', table);
    // Assess
    expect(listed.code).toBe(0);
    expect(listed.output.split('\n')).toEqual([
      'device\tlinked\tstate\tlast used',
      expect.stringMatching(/^imported\t491701234567:3@s\.whatsapp\.net\tlinked\t\d{4}-\d\d-\d\dT/),
      expect.stringMatching(/^second\t491700000002:3@s\.whatsapp\.net\tlinked\t/),
    ]);
    expect(deleted).toEqual({ code: 0, output: 'deleted device second' });
    expect(after.output.split('\n')).toHaveLength(2);
  });

  it('runs as `npm run session` against a local endpoint, creating a missing table', async () => {
    // Prepare
    const table = `session-cli-child-${process.pid}-${Date.now()}`;
    // Act
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'session', '--', 'list', '--table', table], { env: process.env, cwd: process.cwd() });
    // Assess
    expect(stdout.trim()).toBe('device\tlinked\tstate\tlast used');
    expect(await new DynamoDbSessionStore(client, table).list()).toEqual([]);
  });
});
