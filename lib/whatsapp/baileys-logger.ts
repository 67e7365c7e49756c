import { DisconnectReason, getErrorCodeFromStreamError, type BinaryNode, type SocketConfig } from '@whiskeysockets/baileys';
import { logger } from '../observability.js';

/** Only these fields of Baileys' log objects are kept: nothing that can carry key material or stanza contents. */
const SAFE_FIELDS = ['name', 'version', 'attempt', 'statusCode', 'errorType', 'reason', 'jid', 'id', 'type'];

function safeFields(obj: unknown): Record<string, unknown> {
  if (obj instanceof Error) return { error: obj.message };
  if (typeof obj !== 'object' || obj === null) return {};
  const fields: Record<string, unknown> = {};
  for (const name of SAFE_FIELDS) {
    const value = (obj as Record<string, unknown>)[name];
    if (typeof value === 'string' || typeof value === 'number') fields[name] = typeof value === 'string' ? value.slice(0, 200) : value;
  }
  const err = (obj as { err?: unknown; error?: unknown }).err ?? (obj as { error?: unknown }).error;
  if (err instanceof Error) fields.error = err.message;
  return fields;
}

/** Why a connection's login was held back and then not sent (lib/whatsapp/wa-socket.ts): no failure. */
export const LOGIN_WITHHELD = 'login withheld';
/** Warnings Baileys prints on every connection of a short-lived, history-less socket, and the end of a withheld login: expected here. */
const EXPECTED = new RegExp(`DISABLING ALL SYNC|^${LOGIN_WITHHELD}$`);
/** Stream ends that are part of normal operation: a newer login replaced this connection (440), the restart after pairing (515). */
const ROUTINE_STREAM_ENDS = new Set<number>([DisconnectReason.connectionReplaced, DisconnectReason.restartRequired]);
const message = (obj: unknown, msg?: string) => (msg ?? (typeof obj === 'string' ? obj : 'baileys')).slice(0, 300);
const ignore = () => undefined;

/**
 * Baileys' pino-style logger routed into the project's logger, warn and error only, sanitised. Baileys' errors
 * become WARN: each one is context of a request whose outcome the handler logs once, at the level that outcome
 * deserves (ERROR only for what needs a person). A stream error is logged with its code, at INFO when it is routine.
 */
export const baileysLogger: SocketConfig['logger'] = {
  level: 'warn',
  child: () => baileysLogger,
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: (obj, msg) => {
    if (!EXPECTED.test(message(obj, msg))) logger.warn(message(obj, msg), { source: 'baileys', ...safeFields(obj) });
  },
  error: (obj, msg) => {
    const fields = safeFields(obj);
    if (EXPECTED.test(String(fields.error))) return;
    const streamError = (obj as { fullErrorNode?: BinaryNode } | undefined)?.fullErrorNode;
    if (!streamError) return logger.warn(message(obj, msg), { source: 'baileys', ...fields });
    const { reason, statusCode } = getErrorCodeFromStreamError(streamError);
    (ROUTINE_STREAM_ENDS.has(statusCode) ? logger.info : logger.warn).call(logger, message(obj, msg), { source: 'baileys', statusCode, reason });
  },
};
