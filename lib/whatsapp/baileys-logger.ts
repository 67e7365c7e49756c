import type { SocketConfig } from '@whiskeysockets/baileys';
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

/** Warnings Baileys prints on every connection of a short-lived, history-less socket: expected here. */
const EXPECTED = /DISABLING ALL SYNC/;
const message = (obj: unknown, msg?: string) => (msg ?? (typeof obj === 'string' ? obj : 'baileys')).slice(0, 300);
const ignore = () => undefined;

/** Baileys' pino-style logger routed into the project's logger, warn and error only, sanitised. */
export const baileysLogger: SocketConfig['logger'] = {
  level: 'warn',
  child: () => baileysLogger,
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: (obj, msg) => {
    if (!EXPECTED.test(message(obj, msg))) logger.warn(message(obj, msg), { source: 'baileys', ...safeFields(obj) });
  },
  error: (obj, msg) => logger.error(message(obj, msg), { source: 'baileys', ...safeFields(obj) }),
};
