/**
 * What pinning does to the account, decided before anything is sent: WhatsApp shows at most a few
 * pinned chats (the phone silently drops one the user chose when it gets more), and a chat already in
 * the requested state is left alone (a repeated pin would move it to the top of the phone's list).
 */
import type { PinnedChats, PinRequest } from './whatsapp-port.js';

/** change: the request changes the chat; unchanged: it already is so; limit: one pinned chat too many. */
export type PinDecision = 'change' | 'unchanged' | 'limit';

export interface PinPlan {
  /** Request id → its decision, taken in order on the state the earlier requests left. */
  decisions: Map<string, PinDecision>;
  /** Chat → the pinned state to upload: only chats whose final state differs from the account's. */
  changes: Map<string, boolean>;
}

/** Decides requests (in arrival order) against the account's pinned chats at the version the upload builds on. */
export type PinPlanner = (pinned: PinnedChats, requests: readonly PinRequest[]) => PinPlan;

/** `maxPinned`: most chats the account may have pinned; 0 disables the cap. */
export function pinPolicy(maxPinned: number): PinPlanner {
  return (pinned, requests) => {
    const state = new Set(pinned.keys());
    const decisions = new Map<string, PinDecision>();
    for (const { id, chatJid, pinned: wanted } of requests) {
      if (state.has(chatJid) === wanted) decisions.set(id, 'unchanged');
      else if (wanted && maxPinned > 0 && state.size >= maxPinned) decisions.set(id, 'limit');
      else {
        decisions.set(id, 'change');
        if (wanted) state.add(chatJid);
        else state.delete(chatJid);
      }
    }
    const chats = new Set(requests.map((request) => request.chatJid));
    const changes = new Map([...chats].filter((chat) => state.has(chat) !== pinned.has(chat)).map((chat) => [chat, state.has(chat)]));
    return { decisions, changes };
  };
}
