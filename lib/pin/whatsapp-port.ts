/** What the pin use case needs from WhatsApp (implemented by lib/whatsapp/, faked in HTTP-layer tests). */
export interface PinChatCommand {
  /** Which linked account (device) to act as. */
  deviceId: string;
  /** Normalised JID: `<digits>@s.whatsapp.net`, `<id>@g.us` or `<digits>@lid`. */
  chatJid: string;
  pinned: boolean;
}

export interface PinChatContext {
  /** Epoch milliseconds by which the whole call must have answered. */
  deadline: number;
  /** Unique per invocation: the lease owner. */
  invocationId: string;
}

export interface WhatsAppPort {
  /**
   * Resolves only once WhatsApp accepted the change. Rejects with the typed errors of lib/errors.ts:
   * ChatNotFoundError, NotLoggedInError, AppStateKeyMissingError, DeviceBusyError,
   * WhatsAppTimeoutError, WhatsAppRejectedError (anything else is unexpected).
   */
  setChatPinned(command: PinChatCommand, context: PinChatContext): Promise<void>;
}
