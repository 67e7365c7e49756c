/** What the pin use case needs from WhatsApp (implemented by lib/whatsapp/, faked in HTTP-layer tests). */
import type { PinDecision, PinPlanner } from './pin-policy.js';

export interface PinChatCommand {
  /** Which linked account (device) to act as. */
  deviceId: string;
  /** Normalised JID: `<digits>@s.whatsapp.net`, `<id>@g.us` or `<digits>@lid`. */
  chatJid: string;
  pinned: boolean;
}

/** One caller's request as the device serves it (several may be served together). */
export interface PinRequest {
  /** Unique per request: the invocation (and SQS record) id. */
  id: string;
  chatJid: string;
  pinned: boolean;
}

/** The account's pinned chats: chat JID → timestamp (ms) of the mutation that pinned it. */
export type PinnedChats = ReadonlyMap<string, number>;

export interface PinChatContext {
  /** Epoch milliseconds by which the whole call must have answered. */
  deadline: number;
  /** Unique per invocation: the request id and the lease owner. */
  invocationId: string;
}

export interface WhatsAppPort {
  /**
   * Decides the request with `plan` on the account's pinned chats as WhatsApp has them now, uploads what
   * changes, and resolves with the request's decision only once WhatsApp accepted (or, for a request that
   * changes nothing, confirmed) the state it was decided on. Rejects with the typed errors of
   * lib/errors.ts: ChatNotFoundError, NotLoggedInError, AppStateKeyMissingError, DeviceBusyError,
   * WhatsAppTimeoutError, WhatsAppRejectedError (anything else is unexpected).
   */
  setChatPinned(command: PinChatCommand, context: PinChatContext, plan: PinPlanner): Promise<PinDecision>;
}
