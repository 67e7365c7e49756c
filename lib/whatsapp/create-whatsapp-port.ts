import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config.js';
import type { OpenLink } from '../device-turns/device-link.js';
import { DeviceQueue } from '../device-turns/device-queue.js';
import { DeviceTurns, type DeviceTurnsOptions } from '../device-turns/device-turns.js';
import type { WhatsAppPort } from '../pin/whatsapp-port.js';
import { DynamoDbSessionStore } from '../session/dynamodb-session-store.js';

let side: Promise<typeof import('./device-connection.js')> | undefined;

/**
 * What speaks to WhatsApp: ./device-connection.js and all it imports (Baileys, libsignal, ws, the app-state code, the
 * bridge's WebAssembly), imported once per process. It is imported apart so that the cold start's import does not
 * compile it: in the bundle it stays text until imported (infra/module-bodies.mjs). The promise is kept, not the
 * import repeated: a module graph jest isolates resolves a later import() in the test's graph instead.
 */
export const whatsappSide = () => (side ??= import('./device-connection.js'));

/**
 * Builds the WhatsApp port once per process: the device's turn-taking over Baileys connections and the DynamoDB session
 * store. The WhatsApp side is imported right after the cold start's own code has run (setImmediate), while the API
 * credentials' prefetch is in flight; a request that needs it sooner waits for it.
 */
export function createWhatsAppPort(
  config: Config,
  client = new DynamoDBClient({}),
  finishAfterResponse?: DeviceTurnsOptions['finishAfterResponse'],
): WhatsAppPort & { close(): Promise<void> } {
  const sessions = new DynamoDbSessionStore(client, config.sessionTable);
  let connections: Promise<OpenLink> | undefined;
  const opener = () =>
    (connections ??= whatsappSide().then(({ deviceConnections }) =>
      deviceConnections(sessions, { wsUrl: config.whatsappWsUrl, mediaUrl: config.whatsappMediaUrl, checkChatExists: config.checkChatExists }),
    ));
  setImmediate(() => opener().catch(() => undefined)); // a failure meets the first pin again
  const open: OpenLink = async (...args) => (await opener())(...args);
  return new DeviceTurns(new DeviceQueue(client, config.sessionTable), sessions, open, { leaseSeconds: config.leaseSeconds, finishAfterResponse });
}
