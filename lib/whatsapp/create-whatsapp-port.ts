import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config.js';
import { DeviceQueue } from '../device-turns/device-queue.js';
import { DeviceTurns } from '../device-turns/device-turns.js';
import type { WhatsAppPort } from '../pin/whatsapp-port.js';
import { DynamoDbSessionStore } from '../session/dynamodb-session-store.js';
import { deviceConnections } from './device-connection.js';

/** Builds the WhatsApp port once per process: the device's turn-taking over Baileys connections and the DynamoDB session store. */
export function createWhatsAppPort(config: Config, client = new DynamoDBClient({})): WhatsAppPort & { close(): Promise<void> } {
  const sessions = new DynamoDbSessionStore(client, config.sessionTable);
  const open = deviceConnections(sessions, { wsUrl: config.whatsappWsUrl, mediaUrl: config.whatsappMediaUrl, checkChatExists: config.checkChatExists });
  return new DeviceTurns(new DeviceQueue(client, config.sessionTable), sessions, open, { leaseSeconds: config.leaseSeconds });
}
