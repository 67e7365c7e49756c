/** Everything the handler needs on a laptop: DynamoDB Local on the data dir, Secrets Manager, and the simulator or real WhatsApp. */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbSessionStore, ensureSessionTable } from '../session/dynamodb-session-store.js';
import { startSimulator, type SimAccount, type Simulator } from '../simulator/index.js';
import { trustRootInProcess } from '../whatsapp/process-root.js';
import { startDynamoDbLocal } from './dynamodb-local.js';
import { LOCAL_TABLES, type LocalCredentials, type WhatsAppMode } from './local-data.js';
import { startLocalSecretsManager } from './local-secrets-manager.js';

export const LOCAL_SECRET_ID = 'local/pin-api-credentials';
/** The simulated account and the contact of the sample events (events/*\/pin.json pin this chat). */
export const DEMO_PHONE = '15550100001';
export const DEMO_CHAT = '6289685028129@s.whatsapp.net';
export const DEMO_DEVICE = 'default';
/** Pinned on the demo phone from the start: a contact and a group (the sample chat is a third: a fourth meets the cap). */
export const DEMO_PINNED = ['15550100101@s.whatsapp.net', '120363000000000001@g.us'];
/** Another contact of the demo account, for trying the cap after the sample chat. */
export const DEMO_FOURTH_CHAT = '15550100102@s.whatsapp.net';

export interface SimulatorDemo {
  sim: Simulator;
  account: SimAccount;
  deviceId: string;
  deviceJid: string;
  chatJid: string;
}

export interface LocalStack {
  /** Variables the handler reads (set them before importing it). */
  env: Record<string, string>;
  store: DynamoDbSessionStore;
  table: string;
  dynamoDbPid: number;
  demo?: SimulatorDemo;
  stop(): Promise<void>;
}

/** A local DynamoDB client: fake credentials unless the environment has some (nothing leaves the machine). */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'local',
    ...(process.env.AWS_ACCESS_KEY_ID ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  });
}

/** Trusts the simulator's certificate root in this process (what only the local tools and tests do). */
export const trustSimulatorRoot = trustRootInProcess;

/** Stores a linked session as the login tool would: a fresh device, under a lease, in one fenced commit. */
export async function storeLinkedSession(store: DynamoDbSessionStore, deviceId: string, linked: Awaited<ReturnType<Simulator['linkDevice']>>): Promise<void> {
  await store.deleteDevice(deviceId);
  const lease = await store.acquireLease(deviceId, `local-${randomUUID()}`, 30);
  await store.commit(lease, { creds: linked.creds, keys: linked.keys });
}

/**
 * A new simulator (it lives in memory) with the demo device linked again. The devices linked to an earlier one are
 * unknown to it, and WhatsApp would refuse them (401): they are marked logged-out, so that the session list says so.
 */
export async function startSimulatorDemo(store: DynamoDbSessionStore): Promise<SimulatorDemo> {
  const sim = await startSimulator();
  trustSimulatorRoot(sim.rootPublicKey);
  const account = sim.createAccount({ phoneNumber: DEMO_PHONE, name: 'Demo phone' });
  for (const jid of [DEMO_CHAT, DEMO_FOURTH_CHAT]) sim.registerNumber(jid.split('@')[0]!);
  // A small history like a real account's: a dozen chats, two of them pinned, compacted into a snapshot.
  await sim.seedAppState(account.phoneNumber, { entries: 12, pinned: DEMO_PINNED, laterPatches: 2 });
  const linked = await sim.linkDevice(account.phoneNumber);
  await storeLinkedSession(store, DEMO_DEVICE, linked);
  for (const device of await store.list()) {
    if (device.deviceId === DEMO_DEVICE || device.state !== 'linked') continue;
    // A device whose lease is live (a process killed mid-call) keeps its state: its next pin is refused and marks it.
    const lease = await store.acquireLease(device.deviceId, `local-${randomUUID()}`, 30).catch(() => undefined);
    if (lease) await store.commit(lease, { state: 'logged-out' });
  }
  return { sim, account, deviceId: DEMO_DEVICE, deviceJid: linked.deviceJid, chatJid: DEMO_CHAT };
}

/** Starts what it needs in order and, if a step fails, stops what it started. */
export async function startLocalStack(options: { dataDir: string; mode: WhatsAppMode; credentials: LocalCredentials }): Promise<LocalStack> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
  };
  try {
    const dynamoDir = join(options.dataDir, 'dynamodb');
    mkdirSync(dynamoDir, { recursive: true });
    const dynamo = await startDynamoDbLocal({ path: dynamoDir, sharedDb: true });
    stops.push(dynamo.stop);
    const client = localDynamoDbClient(dynamo.endpoint);
    stops.push(async () => client.destroy());
    const table = LOCAL_TABLES[options.mode];
    await ensureSessionTable(client, table);
    const store = new DynamoDbSessionStore(client, table);
    const secrets = await startLocalSecretsManager();
    stops.push(secrets.stop);
    secrets.put(LOCAL_SECRET_ID, JSON.stringify({ basic_auth: options.credentials.basicAuth }));
    const demo = options.mode === 'simulator' ? await startSimulatorDemo(store) : undefined;
    if (demo) stops.push(() => demo.sim.stop());
    const env: Record<string, string> = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      SESSION_TABLE: table,
      API_CREDENTIALS_SECRET_ID: LOCAL_SECRET_ID,
      ...(demo && { WHATSAPP_WS_URL: demo.sim.url, WHATSAPP_MEDIA_URL: demo.sim.mediaUrl, DEFAULT_DEVICE_ID: DEMO_DEVICE }),
    };
    return { env, store, table, dynamoDbPid: dynamo.pid, demo, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Sets the handler's environment (defaults for what the stack does not decide) and imports it: config is read at import. */
export async function loadHandler(env: Record<string, string>): Promise<(event: unknown, context: unknown) => Promise<unknown>> {
  Object.assign(process.env, env);
  process.env.AWS_REGION ??= 'local';
  if (!process.env.AWS_ACCESS_KEY_ID) Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';
  const { handler } = await import('../../functions/pin-chat.js');
  return handler as unknown as (event: unknown, context: unknown) => Promise<unknown>;
}
