import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BufferJSON, getNextPreKeys, proto, useMultiFileAuthState } from '@whiskeysockets/baileys';
import { LOCAL_TABLES, writeStackFile } from '../../../lib/local/local-data.js';
import { DynamoDbSessionStore, ensureSessionTable } from '../../../lib/session/dynamodb-session-store.js';
import { multiFileName, parseMultiFileName } from '../../../lib/session/multi-file-folder.js';
import { runSessionCli } from '../../../lib/session/session-cli.js';
import { appStateMeta, appStateSyncKey, everyKeyCategory, linkedCreds, localTable } from './session-test-data.js';

const run = promisify(execFile);
let client: DynamoDBClient;
let tableName: string;
let work: string;
let source: string;
let folders = 0;
const folder = () => join(work, `folder-${++folders}`);

/** Runs the CLI in-process (on this test's table unless `env` says otherwise) and returns its exit code and output. */
async function cli(argv: string[], env: Record<string, string | undefined> = { ...process.env, SESSION_TABLE: tableName }): Promise<{ code: number; output: string; notes: string[] }> {
  const lines: string[] = [];
  const notes: string[] = [];
  const code = await runSessionCli(argv, env, (line) => lines.push(line), (line) => notes.push(line));
  return { code, output: lines.join('\n'), notes };
}

/** Runs `work` with process.env changed as given (undefined: removed), as the AWS SDK reads it; restores it after. */
async function withEnv<T>(changes: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(changes).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(changes);
  try {
    return await work();
  } finally {
    apply(saved);
  }
}

async function parsedFolder(path: string): Promise<Record<string, unknown>> {
  const files = (await readdir(path)).sort();
  return Object.fromEntries(await Promise.all(files.map(async (file) => [file, JSON.parse(await readFile(join(path, file), 'utf8'))])));
}

/** A folder written by Baileys' own useMultiFileAuthState: linked creds, generated pre-keys, every key category. */
async function baileysFolder(path: string): Promise<void> {
  const { state, saveCreds } = await useMultiFileAuthState(path);
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
  work = await mkdtemp(join(tmpdir(), 'session-cli-'));
  source = join(work, 'baileys');
  await baileysFolder(source);
});

beforeEach(async () => {
  client?.destroy();
  ({ client, tableName } = await localTable('session-cli'));
});

afterAll(async () => {
  client.destroy();
  await rm(work, { recursive: true, force: true });
});

describe('session CLI', () => {
  it('imports a Baileys folder and exports it back equivalent after parsing, readable by the owner only', async () => {
    // Prepare
    const exported = folder();
    // Act
    const imported = await cli(['import', '--device', 'imported', source]);
    const exportedResult = await cli(['export', '--device', 'imported', exported]);
    // Assess
    expect(imported).toMatchObject({ code: 0, output: 'imported creds and 42 keys into device imported' });
    expect(exportedResult.code).toBe(0);
    const [before, after] = [await parsedFolder(source), await parsedFolder(exported)];
    expect(Object.keys(before)).toHaveLength(43);
    expect(after).toEqual(before);
    expect((await stat(exported)).mode & 0o777).toBe(0o700);
    const modes = await Promise.all((await readdir(exported)).map(async (file) => (await stat(join(exported, file))).mode & 0o777));
    expect(new Set(modes)).toEqual(new Set([0o600]));
  });

  it('exports only into a new or empty folder', async () => {
    // Prepare
    await cli(['import', '--device', 'imported', source]);
    const used = folder();
    await mkdir(used);
    await writeFile(join(used, 'creds.json'), '{}');
    // Act
    const refused = cli(['export', '--device', 'imported', used]);
    // Assess
    await expect(refused).rejects.toThrow(`${used} is not empty: export into a new or empty folder`);
    expect(await readFile(join(used, 'creds.json'), 'utf8')).toBe('{}');
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
    await cli(['export', '--device', 'collection', first]);
    await cli(['import', '--device', 'collection-copy', first, '--force']);
    await cli(['export', '--device', 'collection-copy', second]);
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
    await cli(['import', '--device', 'restored', source]);
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
    await cli(['import', '--device', 'twice', source]);
    // Act
    const result = cli(['import', '--device', 'twice', source]);
    // Assess
    await expect(result).rejects.toThrow('device twice already has a session (linked): delete it first (npm run session -- delete --device twice)');
  });

  it('refuses a second copy of a stored companion under another device id, unless --force', async () => {
    // Prepare
    await cli(['import', '--device', 'shop', source]);
    // Act
    const refused = cli(['import', '--device', 'shop-copy', source]);
    const outcome = await refused.catch((error: Error) => error.message);
    const forced = await cli(['import', '--device', 'shop-copy', source, '--force']);
    // Assess
    expect(outcome).toBe(`${source} holds companion 491701234567:3@s.whatsapp.net, already stored as device shop (linked); two sessions of one companion ` +
      'knock each other off WhatsApp (440, connection replaced). Use device shop, delete it first, or pass --force to import a second copy anyway');
    expect(forced.code).toBe(0);
    expect((await cli(['list'])).output.split('\n').map((line) => line.split('\t')[0])).toEqual(['device', 'shop', 'shop-copy']);
  });

  it('lists the devices with a session, and deletes one; a device that is not there is said so', async () => {
    // Prepare
    const store = new DynamoDbSessionStore(client, tableName);
    await cli(['import', '--device', 'imported', source]);
    await store.commit(await store.acquireLease('second', 'test', 30), { creds: linkedCreds('491700000002') });
    await store.releaseLease(await store.acquireLease('asked-for', 'a pin', 30));
    // Act
    const listed = await cli(['list']);
    const deleted = await cli(['delete', '--device', 'second']);
    const after = await cli(['list']);
    const missing = await cli(['delete', '--device', 'second']).catch((error: Error) => error.message);
    // Assess
    expect(listed.code).toBe(0);
    expect(listed.output.split('\n')).toEqual([
      'device\tlinked\tstate\tlast used',
      expect.stringMatching(/^imported\t491701234567:3@s\.whatsapp\.net\tlinked\t\d{4}-\d\d-\d\dT/),
      expect.stringMatching(/^second\t491700000002:3@s\.whatsapp\.net\tlinked\t/),
    ]);
    expect(listed.notes).toEqual([`store: DynamoDB table ${tableName} (${process.env.AWS_ENDPOINT_URL_DYNAMODB})`]);
    expect(deleted).toMatchObject({ code: 0, output: 'deleted device second (linked, 491700000002:3@s.whatsapp.net)' });
    expect(after.output.split('\n')).toHaveLength(2);
    expect(missing).toBe(`device second has no session in table ${tableName}: nothing deleted (npm run session -- list shows the devices there)`);
  });

  it('uses the local store of a running npm start on the data dir, its mode picking the table', async () => {
    // Prepare: the stack.json a live `npm start` (this process) on the jest run's DynamoDB Local would write
    const dataDir = folder();
    const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB!;
    await mkdir(dataDir);
    writeStackFile(dataDir, { pid: process.pid, mode: 'simulator', url: 'http://127.0.0.1:1', env: { AWS_ENDPOINT_URL_DYNAMODB: endpoint } });
    await ensureSessionTable(client, LOCAL_TABLES.simulator);
    const store = new DynamoDbSessionStore(client, LOCAL_TABLES.simulator);
    await store.deleteDevice('demo');
    await store.commit(await store.acquireLease('demo', 'test', 30), { creds: linkedCreds('15550100001') });
    const env = { DATA_DIR: dataDir };
    // Act
    const listed = await cli(['list'], env);
    const realTable = await cli(['list', '--real'], env);
    // Assess
    expect(listed.notes).toEqual([`store: local DynamoDB ${endpoint} (the running npm start's), table pin-sessions-simulator (simulator sessions; --real for the real ones)`]);
    expect(listed.output).toMatch(/^demo\t15550100001:3@s\.whatsapp\.net\tlinked\t/m);
    expect(realTable.notes).toEqual([`store: local DynamoDB ${endpoint} (the running npm start's), table pin-sessions (real sessions; --simulator for the simulator ones)`]);
    expect(realTable.output).not.toMatch(/^demo\t/m);
  });

  it('says what to set when a setting is missing', async () => {
    // Prepare: no AWS settings at all, as on a fresh laptop
    const none = { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL_DYNAMODB: undefined,
      AWS_CONFIG_FILE: join(work, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(work, 'none'), AWS_EC2_METADATA_DISABLED: 'true' };
    const failure = (argv: string[], env: Record<string, string | undefined>) => cli(argv, env).then(() => 'no error', (error: Error) => error.message);
    // Act
    const noTable = await failure(['list'], { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' });
    const noRegion = await withEnv(none, () => failure(['list', '--table', 'pin-sessions-prod'], process.env));
    const noCredentials = await withEnv({ ...none, AWS_REGION: 'eu-west-1' }, () => failure(['list', '--table', 'pin-sessions-prod'], process.env));
    const noDevice = await failure(['delete'], {});
    // Assess
    expect(noTable).toBe('AWS_ENDPOINT_URL_DYNAMODB is set but no table: pass --table NAME or set SESSION_TABLE, or unset AWS_ENDPOINT_URL_DYNAMODB to use the local store');
    expect(noRegion).toBe('no AWS region for table pin-sessions-prod: set AWS_REGION (or AWS_PROFILE, with a region in its profile) to the deployed stack\'s region, or leave out --table and SESSION_TABLE to use the local store');
    expect(noCredentials).toBe('no AWS credentials for table pin-sessions-prod: set AWS_PROFILE (aws configure / aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the deployed account');
    expect(noDevice).toBe('delete needs --device ID (npm run session -- list shows the devices)');
  });

  it('runs as `npm run session` against a local endpoint, creating a missing table', async () => {
    // Prepare
    const table = `session-cli-child-${process.pid}-${Date.now()}`;
    // Act
    const { stdout } = await run('npm', ['run', '--silent', 'session', '--', 'list', '--table', table], { env: process.env });
    // Assess
    expect(stdout.trim()).toBe('device\tlinked\tstate\tlast used');
    expect(await new DynamoDbSessionStore(client, table).list()).toEqual([]);
  });
});
