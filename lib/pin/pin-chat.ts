import { ValidationError } from '../errors.js';
import { parseChatJid } from './chat-jid.js';
import type { PinChatCommand, PinChatContext, WhatsAppPort } from './whatsapp-port.js';

/** What a caller sent, before validation (from an HTTP request, a direct invocation or an SQS message). */
export interface PinChatInput {
  chatJid: unknown;
  pinned: unknown;
  /** undefined → the configured default device. */
  deviceId: unknown;
}

export interface PinChatResult {
  status: 'success';
  message: string;
  chat_jid: string;
  pinned: boolean;
}

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;

export function parseDeviceId(raw: unknown, defaultDeviceId: string): string {
  if (raw === undefined || raw === null || raw === '') return defaultDeviceId;
  if (typeof raw === 'string' && DEVICE_ID.test(raw)) return raw;
  throw new ValidationError('device_id: invalid device id');
}

export function parsePinned(raw: unknown): boolean {
  if (raw === undefined || raw === null) throw new ValidationError('pinned: cannot be blank');
  if (typeof raw !== 'boolean') throw new ValidationError('pinned: must be a boolean');
  return raw;
}

/** The use case: validate everything first (no store or WhatsApp traffic for a client error), then pin. */
export class PinChat {
  constructor(
    private readonly whatsapp: WhatsAppPort,
    private readonly defaultDeviceId: string,
  ) {}

  parse(input: PinChatInput): PinChatCommand {
    const pinned = parsePinned(input.pinned);
    const chatJid = parseChatJid(input.chatJid);
    const deviceId = parseDeviceId(input.deviceId, this.defaultDeviceId);
    return { deviceId, chatJid, pinned };
  }

  async execute(command: PinChatCommand, context: PinChatContext): Promise<PinChatResult> {
    await this.whatsapp.setChatPinned(command, context);
    const message = command.pinned ? 'Chat pinned successfully' : 'Chat unpinned successfully';
    return { status: 'success', message, chat_jid: command.chatJid, pinned: command.pinned };
  }
}
