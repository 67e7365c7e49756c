import type { Boom } from '@hapi/boom';
import { isJidGroup, isLidUser, USyncQuery, USyncUser } from '@whiskeysockets/baileys';
import { ChatNotFoundError } from '../errors.js';
import type { WaSocket } from './wa-socket.js';

/**
 * Asks WhatsApp whether the chat exists: a user must be registered (usync by phone number), a LID must
 * have devices (usync by LID, the device query whatsmeow and Baileys send to LID users), a group must
 * exist and have us as a participant (403/404 otherwise).
 */
export async function assertChatExists(socket: WaSocket, chatJid: string): Promise<void> {
  if (isLidUser(chatJid)) {
    const query = new USyncQuery().withContext('interactive').withDeviceProtocol().withUser(new USyncUser().withId(chatJid));
    // A LID WhatsApp does not know comes back without devices (or with an <error code="404"> in them).
    const answer = await socket.sock.executeUSyncQuery(query).catch((error: Boom) => (error.data === 404 ? undefined : Promise.reject(error)));
    const devices = answer?.list[0]?.devices as { deviceList?: unknown[] } | undefined;
    if (!devices?.deviceList?.length) throw new ChatNotFoundError(chatJid);
    return;
  }
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
