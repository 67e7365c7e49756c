/**
 * Typed errors of the domain. Each has a `name` and keeps its `cause`; the mapping to HTTP status
 * codes lives in exactly one place (lib/http/error-response.ts).
 */
export abstract class AppError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed: `message` is shown to the client as is. */
export class ValidationError extends AppError {}

/** The request body exceeds the accepted size. */
export class PayloadTooLargeError extends AppError {
  constructor(readonly limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
  }
}

/** Missing, malformed or wrong credentials. */
export class UnauthorizedError extends AppError {
  constructor(options?: { cause?: unknown }) {
    super('Unauthorized access', options);
  }
}

/** The chat is not on WhatsApp, or a group that does not exist or the account is not in. */
export class ChatNotFoundError extends AppError {
  constructor(readonly chatJid: string, options?: { cause?: unknown }) {
    super(`chat ${chatJid} not found`, options);
  }
}

/** No session for the device, linking never finished, or WhatsApp logged the device out. */
export class NotLoggedInError extends AppError {
  constructor(readonly deviceId: string, readonly reason: 'absent' | 'linking' | 'logged-out', options?: { cause?: unknown }) {
    super(`device ${deviceId} is not logged in (${reason})`, options);
  }
}

/**
 * The device lacks an app-state key: none at all (the phone never shared one), or the one WhatsApp used for
 * some of the account's app state (`keyId`, base64). Nothing was changed; the operator must act.
 */
export class AppStateKeyMissingError extends AppError {
  constructor(readonly deviceId: string, readonly keyId?: string, options?: { cause?: unknown }) {
    super(keyId ? `device ${deviceId} lacks app-state key ${keyId}` : `app-state key missing for device ${deviceId}`, options);
  }
}

/** Another invocation holds the device (its lease), or WhatsApp replaced our connection (440). */
export class DeviceBusyError extends AppError {
  constructor(readonly deviceId: string, readonly retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(`device ${deviceId} is busy`, options);
  }
}

/**
 * The chat would become one pinned chat too many: WhatsApp shows at most `limit`, and the phone silently
 * drops one the user chose when it gets more. Nothing was sent.
 */
export class PinLimitError extends AppError {
  constructor(readonly chatJid: string, readonly limit: number, options?: { cause?: unknown }) {
    super(`You can only pin up to ${limit} chats`, options);
  }
}

/** WhatsApp did not answer within the deadline. */
export class WhatsAppTimeoutError extends AppError {}

/** WhatsApp answered, but did not accept the change (e.g. a second 409, or another error code). */
export class WhatsAppRejectedError extends AppError {}

/** App state WhatsApp sent does not verify (a MAC, the LT hash or the version chain): it is not applied. */
export class AppStateVerificationError extends WhatsAppRejectedError {}

/** Our lease was taken over by another invocation before we could commit (fencing). */
export class LeaseLostError extends AppError {}
