/**
 * The account's pinned chats as data: decoded from every `pin_v1` mutation the device sees. `PinAction`
 * carries only `pinned`; the order of the phone's pinned list is the mutation's timestamp (ms).
 */
import { toNumber } from '@whiskeysockets/baileys';
import type { DecodedMutation } from './sync-codec.js';

export const PIN_INDEX = 'pin_v1';

/** Chat JID → timestamp (ms) of the mutation that pinned it. */
export type PinnedChats = ReadonlyMap<string, number>;


const pinOf = (mutation: DecodedMutation) => {
  const [action, chatJid] = mutation.index;
  if (action !== PIN_INDEX || !chatJid) return undefined;
  return { chatJid, pinned: mutation.operation === 'set' && !!mutation.value.pinAction?.pinned, at: toNumber(mutation.value.timestamp) };
};

/** Mutations in the order the collection applies them (patches): the later one wins. */
export function applyPins(pins: Map<string, number>, mutations: DecodedMutation[]): void {
  for (const mutation of mutations) {
    const pin = pinOf(mutation);
    if (!pin) continue;
    if (pin.pinned) pins.set(pin.chatJid, pin.at);
    else pins.delete(pin.chatJid);
  }
}

/**
 * A snapshot's records come in no order, and a chat can have one record per app-state key it was ever
 * written under (each key gives the index another MAC): the newest timestamp decides.
 */
export function pinsOfSnapshot(mutations: DecodedMutation[]): Map<string, number> {
  const latest = new Map<string, { pinned: boolean; at: number }>();
  for (const mutation of mutations) {
    const pin = pinOf(mutation);
    if (pin && pin.at >= (latest.get(pin.chatJid)?.at ?? -1)) latest.set(pin.chatJid, pin);
  }
  return new Map([...latest].filter(([, pin]) => pin.pinned).map(([chatJid, pin]) => [chatJid, pin.at]));
}
