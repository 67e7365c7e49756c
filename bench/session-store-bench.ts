/**
 * Requests and bytes of a pin-shaped session load and commit against a DynamoDB Local it starts
 * (or AWS_ENDPOINT_URL_DYNAMODB when set), for accounts of growing size (app-state entries ≈ chats).
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Curve, initAuthCreds, proto, type LTHashState } from '@whiskeysockets/baileys';
import { startDynamoDbLocal } from '../lib/local/dynamodb-local.js';
import { DynamoDbSessionStore, ensureSessionTable } from '../lib/session/dynamodb-session-store.js';
import { attachRequestCounter, type RequestCounts } from '../lib/session/request-counter.js';
import { openSessionAuthState } from '../lib/session/session-auth-state.js';

const ACCOUNT_SIZES = [100, 1_000, 3_000, 8_000];
const ROUNDS = 5;

function ltHashState(entries: number, version: number): LTHashState {
  const indexValueMap: LTHashState['indexValueMap'] = {};
  for (let entry = 0; entry < entries; entry++) indexValueMap[randomBytes(32).toString('base64')] = { valueMac: randomBytes(32) };
  return { version, hash: randomBytes(128), indexValueMap };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function sessionStoreBench(print: (line: string) => void = console.log): Promise<void> {
  const local = process.env.AWS_ENDPOINT_URL_DYNAMODB ? undefined : await startDynamoDbLocal();
  const client = new DynamoDBClient({
    endpoint: local?.endpoint ?? process.env.AWS_ENDPOINT_URL_DYNAMODB,
    region: process.env.AWS_REGION ?? 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const tableName = `session-bench-${Date.now()}`;
    await ensureSessionTable(client, tableName);
    const counter = attachRequestCounter(client);
    const store = new DynamoDbSessionStore(client, tableName);
    print('session store: one pin = acquire lease + load + one message write-through + commit (creds + app-state-sync-version); medians of 5 rounds');
    print(['chats', 'phase', 'requests', 'sent', 'received', 'ms'].join('\t'));
    for (const chats of ACCOUNT_SIZES) {
      // A linked account: creds, 812 pre-keys, 200 sessions, 3 app-state keys, the regular_low LT hash of `chats` entries.
      const deviceId = `bench-${chats}`;
      const setup = await store.acquireLease(deviceId, 'setup', 60);
      await store.commit(setup, {
        creds: { ...initAuthCreds(), me: { id: '491701234567:3@s.whatsapp.net' }, myAppStateKeyId: 'key-2' },
        keys: {
          'pre-key': Object.fromEntries(Array.from({ length: 812 }, (_, id) => [String(id + 1), Curve.generateKeyPair()])),
          session: Object.fromEntries(Array.from({ length: 200 }, (_, id) => [`4917${id}.0`, randomBytes(945)])),
          'app-state-sync-key': Object.fromEntries(
            ['key-0', 'key-1', 'key-2'].map((id) => [id, proto.Message.AppStateSyncKeyData.fromObject({ keyData: randomBytes(32), timestamp: Date.now() })]),
          ),
          'app-state-sync-version': { regular_low: ltHashState(chats, 1), regular_high: ltHashState(50, 1), critical_block: ltHashState(10, 1) },
        },
      });
      const phases: Record<string, Array<RequestCounts & { ms: number }>> = { acquire: [], load: [], 'write-through': [], commit: [] };
      const measure = async <T>(phase: string, act: () => Promise<T>): Promise<T> => {
        counter.reset();
        const started = performance.now();
        const result = await act();
        phases[phase]!.push({ ...counter.counts(), ms: performance.now() - started });
        return result;
      };
      for (let round = 0; round < ROUNDS; round++) {
        const lease = await measure('acquire', () => store.acquireLease(deviceId, `invocation-${round}`, 30));
        const snapshot = await measure('load', () => new DynamoDbSessionStore(client, tableName).load(deviceId));
        const auth = openSessionAuthState(store, lease, snapshot);
        // One incoming message: its ratchet state is written through before Baileys sends the receipt.
        await measure('write-through', () => auth.state.keys.set({ session: { '49170.0': randomBytes(945) } }) as Promise<void>);
        const current = snapshot.keys['app-state-sync-version']!.regular_low!;
        const [index] = Object.keys(current.indexValueMap);
        auth.setKeys({ 'app-state-sync-version': { regular_low: { ...current, version: current.version + 1, indexValueMap: { ...current.indexValueMap, [index!]: { valueMac: randomBytes(32) } } } } });
        auth.credsChanged({ lastPropHash: randomBytes(4).toString('hex') });
        await measure('commit', () => auth.commit());
      }
      for (const [phase, runs] of Object.entries(phases)) {
        print([chats, phase, median(runs.map((run) => run.requests)), kb(median(runs.map((run) => run.requestBytes))), kb(median(runs.map((run) => run.responseBytes))), median(runs.map((run) => run.ms)).toFixed(0)].join('\t'));
      }
    }
  } finally {
    client.destroy();
    await local?.stop();
  }
}
