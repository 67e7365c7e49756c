import { afterAll, describe, expect, it } from '@jest/globals';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startSimulatorDemo, type SimulatorDemo } from '../../../lib/local/local-stack.js';
import { DynamoDbSessionStore } from '../../../lib/session/dynamodb-session-store.js';
import { linkedCreds, localTable } from '../session/session-test-data.js';

let client: DynamoDBClient | undefined;
let demo: SimulatorDemo | undefined;
afterAll(async () => {
  await demo?.sim.stop();
  client?.destroy();
});

describe('startSimulatorDemo', () => {
  it('links the demo device to the new simulator and marks the devices of an earlier one logged-out', async () => {
    // Prepare: the simulator table as an earlier `npm start` left it
    let tableName: string;
    ({ client, tableName } = await localTable('local-stack'));
    const store = new DynamoDbSessionStore(client, tableName);
    const seed = async (deviceId: string, user: string) => store.commit(await store.acquireLease(deviceId, 'earlier run', 30), { creds: linkedCreds(user) });
    await seed('default', '15550100001');
    await seed('my-device', '15550100002');
    await store.releaseLease(await store.acquireLease('asked-for', 'a pin', 30));
    // Act
    demo = await startSimulatorDemo(store);
    const devices = await store.list();
    // Assess
    expect(devices.map(({ deviceId, state, linkedJid }) => ({ deviceId, state, linkedJid }))).toEqual([
      { deviceId: 'default', state: 'linked', linkedJid: demo.deviceJid },
      { deviceId: 'my-device', state: 'logged-out', linkedJid: '15550100002:3@s.whatsapp.net' },
    ]);
    expect(demo.deviceJid).toBe('15550100001:1@s.whatsapp.net');
  });
});
