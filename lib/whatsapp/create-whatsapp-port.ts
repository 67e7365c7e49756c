import type { Config } from '../config.js';
import type { WhatsAppPort } from '../pin/whatsapp-port.js';

/** Builds the WhatsApp adapter (Baileys over the DynamoDB session store) once per process. */
export function createWhatsAppPort(config: Config): WhatsAppPort {
  void config;
  throw new Error('WhatsApp adapter not wired yet');
}
