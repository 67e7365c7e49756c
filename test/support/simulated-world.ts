import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { trustSimulatorRoot } from '../../lib/local/local-stack.js';
import { startSimulator, type LinkedDevice, type Simulator, type SimulatorOptions } from '../../lib/simulator/index.js';
import { DynamoDbSessionStore, ensureSessionTable } from '../../lib/session/dynamodb-session-store.js';
import { attachRequestCounter } from '../../lib/session/request-counter.js';
import { startLocalSecretsManager } from '../../lib/local/local-secrets-manager.js';
import { SAMPLE_BASIC_AUTH } from './events.js';
import type { SessionStore } from '../../lib/session/session-store.js';

/** Stores a linked session as the login tool would: under a lease, in one fenced commit. */
export async function seedSession(store: SessionStore, deviceId: string, linked: Pick<LinkedDevice, 'creds' | 'keys'>): Promise<void> {
  const lease = await store.acquireLease(deviceId, `seed-${randomUUID()}`, 30);
  await store.commit(lease, { creds: linked.creds, keys: linked.keys });
}

/**
 * The simulator plus a fresh sessions table in the jest run's DynamoDB Local. Trusting the
 * simulator's root key is what only tests and the local runner do.
 */
export async function startWorld(options: SimulatorOptions = {}) {
  const sim: Simulator = await startSimulator(options);
  trustSimulatorRoot(sim.rootPublicKey);
  const client = new DynamoDBClient({});
  const counter = attachRequestCounter(client);
  const table = `sessions-${randomUUID()}`;
  await ensureSessionTable(client, table);
  const store = new DynamoDbSessionStore(client, table);
  const account = sim.createAccount();
  const contact = '15550001234';
  sim.registerNumber(contact);
  return {
    sim,
    client,
    counter,
    table,
    store,
    account,
    contactJid: `${contact}@s.whatsapp.net`,
    /** Links a new companion device of `phoneNumber` and stores its session under `deviceId`. */
    async link(deviceId: string, phoneNumber = account.phoneNumber) {
      const linked = await sim.linkDevice(phoneNumber);
      await seedSession(store, deviceId, linked);
      return linked;
    },
    async stop() {
      await sim.stop();
      client.destroy();
    },
  };
}
export type World = Awaited<ReturnType<typeof startWorld>>;

/**
 * A world for the real handler: the simulator, a sessions table, the loopback Secrets Manager serving
 * the sample events' credentials, and the environment functions/pin-chat.ts reads at import.
 */
export async function startHandlerWorld(env: Record<string, string> = {}) {
  const world = await startWorld();
  world.sim.registerNumber('6289685028129');
  const secrets = await startLocalSecretsManager();
  secrets.put('pin-api-credentials', JSON.stringify({ basic_auth: SAMPLE_BASIC_AUTH }));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    SESSION_TABLE: world.table,
    API_CREDENTIALS_SECRET_ID: 'pin-api-credentials',
    WHATSAPP_WS_URL: world.sim.url,
    WHATSAPP_MEDIA_URL: world.sim.mediaUrl,
    CHECK_CHAT_EXISTS: 'true',
    ...env,
  });
  return {
    ...world,
    secrets,
    async stop() {
      await world.stop();
      await secrets.stop();
    },
  };
}
export type HandlerWorld = Awaited<ReturnType<typeof startHandlerWorld>>;
