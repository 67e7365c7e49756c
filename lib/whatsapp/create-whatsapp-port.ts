import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config.js';
import type { WhatsAppPort } from '../pin/whatsapp-port.js';
import { DynamoDbSessionStore } from '../session/dynamodb-session-store.js';
import { BaileysWhatsApp } from './baileys-whatsapp.js';

/** Builds the WhatsApp adapter (Baileys over the DynamoDB session store) once per process. */
export function createWhatsAppPort(config: Config, client = new DynamoDBClient({})): WhatsAppPort {
  return new BaileysWhatsApp(new DynamoDbSessionStore(client, config.sessionTable), {
    wsUrl: config.whatsappWsUrl,
    mediaUrl: config.whatsappMediaUrl,
    checkChatExists: config.checkChatExists,
    leaseSeconds: config.leaseSeconds,
  });
}
