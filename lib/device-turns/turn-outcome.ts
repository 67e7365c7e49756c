/**
 * A served request's outcome as the queue stores it for its waiting caller: the policy's decision, or
 * the typed error that settled it, rebuilt on the caller's side as the same class (lib/errors.ts).
 */
import {
  AppStateKeyMissingError,
  AppStateVerificationError,
  ChatNotFoundError,
  DeviceBusyError,
  NotLoggedInError,
  WhatsAppRejectedError,
  WhatsAppTimeoutError,
} from '../errors.js';
import type { PinDecision } from '../pin/pin-policy.js';

/** A request's outcome: its decision, or the typed error that settled it. */
export type RequestOutcome = PinDecision | Error;

type Encoded = { d: PinDecision } | { e: string; m: string; a?: Array<string | number | undefined> };

/** The errors a queued request can be answered with, rebuilt from their constructor arguments. */
const ERRORS: Record<string, (message: string, args: Array<string | number | undefined>) => Error> = {
  ChatNotFoundError: (_, [chatJid]) => new ChatNotFoundError(String(chatJid)),
  NotLoggedInError: (_, [deviceId, reason]) => new NotLoggedInError(String(deviceId), reason as NotLoggedInError['reason']),
  AppStateKeyMissingError: (_, [deviceId, keyId]) => new AppStateKeyMissingError(String(deviceId), keyId === undefined ? undefined : String(keyId)),
  DeviceBusyError: (_, [deviceId, retryAfter]) => new DeviceBusyError(String(deviceId), Number(retryAfter)),
  WhatsAppTimeoutError: (message) => new WhatsAppTimeoutError(message),
  AppStateVerificationError: (message) => new AppStateVerificationError(message),
  WhatsAppRejectedError: (message) => new WhatsAppRejectedError(message),
};

function argsOf(error: Error): Encoded & { e: string } {
  if (error instanceof ChatNotFoundError) return { e: error.name, m: error.message, a: [error.chatJid] };
  if (error instanceof NotLoggedInError) return { e: error.name, m: error.message, a: [error.deviceId, error.reason] };
  if (error instanceof AppStateKeyMissingError) return { e: error.name, m: error.message, a: [error.deviceId, error.keyId] };
  if (error instanceof DeviceBusyError) return { e: error.name, m: error.message, a: [error.deviceId, error.retryAfterSeconds] };
  // Anything unexpected reaches the waiting caller as the holder's failure to get an answer (its details stay in the holder's log).
  return error.name in ERRORS ? { e: error.name, m: error.message } : { e: 'WhatsAppRejectedError', m: 'the device failed to serve the request' };
}

export const encodeOutcome = (outcome: RequestOutcome): string => JSON.stringify(outcome instanceof Error ? argsOf(outcome) : { d: outcome });

export function decodeOutcome(text: string): RequestOutcome {
  const encoded = JSON.parse(text) as Encoded;
  if ('d' in encoded) return encoded.d;
  return (ERRORS[encoded.e] ?? ERRORS.WhatsAppRejectedError!)(encoded.m, encoded.a ?? []);
}
