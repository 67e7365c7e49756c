import {
  AppStateKeyMissingError,
  ChatNotFoundError,
  DeviceBusyError,
  NotLoggedInError,
  PayloadTooLargeError,
  PinLimitError,
  UnauthorizedError,
  ValidationError,
  WhatsAppRejectedError,
  WhatsAppTimeoutError,
} from '../errors.js';

/** The seed's envelope. `code` is a string: the status for 4xx, an upper-case system code for 5xx. */
export interface Envelope<T = Record<string, never>> {
  code: string;
  message: string;
  results: T;
}

export interface MappedError {
  statusCode: number;
  body: Envelope;
  headers?: Record<string, string>;
}

export const REALM = 'whatsapp';

const clientError = (statusCode: number, message: string, headers?: Record<string, string>): MappedError => ({
  statusCode,
  body: { code: String(statusCode), message, results: {} },
  headers,
});

const serverError = (statusCode: number, code: string, message: string): MappedError => ({
  statusCode,
  body: { code, message, results: {} },
});

/** Errors of @middy/http-json-body-parser, told apart by their status (415: content type, 422: JSON). */
function bodyParserError(error: unknown): MappedError | undefined {
  const cause = (error as { cause?: { package?: unknown } } | undefined)?.cause;
  if (cause?.package !== '@middy/http-json-body-parser') return undefined;
  const { statusCode, message } = error as { statusCode?: number; message: string };
  if (statusCode === 415) return clientError(400, 'body: Content-Type must be application/json');
  if ((cause as { data?: unknown }).data === undefined) return clientError(400, 'body: required, a JSON object like {"pinned":true}');
  if (message === 'Forbidden key in JSON body') return clientError(400, 'body: forbidden key in JSON');
  return clientError(400, 'body: invalid JSON');
}

/** The one place where errors become responses. 5xx bodies never carry internals. */
export function mapError(error: unknown): MappedError {
  if (error instanceof ValidationError) return clientError(400, error.message);
  if (error instanceof UnauthorizedError) return clientError(401, 'Unauthorized access', { 'WWW-Authenticate': `Basic realm="${REALM}"` });
  if (error instanceof ChatNotFoundError) return clientError(404, 'Chat not found');
  if (error instanceof DeviceBusyError) {
    return clientError(409, 'device is busy, retry later', { 'Retry-After': String(Math.max(1, Math.ceil(error.retryAfterSeconds))) });
  }
  if (error instanceof PinLimitError) return clientError(409, error.message);
  if (error instanceof PayloadTooLargeError) return clientError(413, `request body larger than ${error.limitBytes} bytes`);
  if (error instanceof NotLoggedInError) return serverError(500, 'INTERNAL_SERVER_ERROR', 'you are not logged in');
  if (error instanceof AppStateKeyMissingError) {
    return serverError(
      500,
      'INTERNAL_SERVER_ERROR',
      'this device lacks an app-state key of the account: open WhatsApp on the phone (it shares its keys with linked devices), or link the device again (npm run login -- --force)',
    );
  }
  if (error instanceof WhatsAppRejectedError) return serverError(502, 'BAD_GATEWAY', 'WhatsApp rejected the change');
  if (error instanceof WhatsAppTimeoutError) return serverError(504, 'GATEWAY_TIMEOUT', 'WhatsApp did not answer in time');
  return bodyParserError(error) ?? serverError(500, 'INTERNAL_SERVER_ERROR', 'internal server error');
}

/** A request that fails the same way however often it is sent again: a 4xx other than "device is busy, retry later". */
export function isClientError(error: unknown): boolean {
  return mapError(error).statusCode < 500 && !(error instanceof DeviceBusyError);
}
