import { PinLimitError, ValidationError } from '../errors.js';
import { parseChatJid } from './chat-jid.js';
import { pinPolicy, type PinPlanner } from './pin-policy.js';
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

/**
 * The use case: validate everything first (no store or WhatsApp traffic for a client error), then pin
 * under the account policy (the pin cap, idempotent pins: ./pin-policy.ts).
 */
export class PinChat {
  private readonly plan: PinPlanner;

  constructor(
    private readonly whatsapp: WhatsAppPort,
    private readonly defaultDeviceId: string,
    private readonly maxPinnedChats: number,
  ) {
    this.plan = pinPolicy(maxPinnedChats);
  }

  parse(input: PinChatInput): PinChatCommand {
    const pinned = parsePinned(input.pinned);
    const chatJid = parseChatJid(input.chatJid);
    const deviceId = parseDeviceId(input.deviceId, this.defaultDeviceId);
    return { deviceId, chatJid, pinned };
  }

  async execute(command: PinChatCommand, context: PinChatContext): Promise<PinChatResult> {
    const decision = await this.whatsapp.setChatPinned(command, context, this.plan);
    if (decision === 'limit') throw new PinLimitError(command.chatJid, this.maxPinnedChats);
    const message = command.pinned ? 'Chat pinned successfully' : 'Chat unpinned successfully';
    return { status: 'success', message, chat_jid: command.chatJid, pinned: command.pinned };
  }
}
