import type { Boom } from '@hapi/boom';
import { isJidGroup, isLidUser } from '@whiskeysockets/baileys';
import { ChatNotFoundError } from '../errors.js';
import type { WaSocket } from './wa-socket.js';

/**
 * Asks WhatsApp whether the chat exists: a user must be registered (usync), a group must exist and
 * have us as a participant (403/404 otherwise). LID chats are taken as given (onWhatsApp cannot ask).
 */
export async function assertChatExists(socket: WaSocket, chatJid: string): Promise<void> {
  if (isLidUser(chatJid)) return;
  if (isJidGroup(chatJid)) {
    try {
      await socket.sock.groupMetadata(chatJid);
    } catch (error) {
      // Baileys turns an IQ's <error code> into a Boom whose `data` is the code.
      const status = (error as Boom).data;
      if (status === 403 || status === 404) throw new ChatNotFoundError(chatJid, { cause: error });
      throw error;
    }
    return;
  }
  const [result] = (await socket.sock.onWhatsApp(chatJid)) ?? [];
  if (!result?.exists) throw new ChatNotFoundError(chatJid);
}
