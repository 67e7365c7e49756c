import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Secret } from './log-capture-scan.ts';

/** Field names under which Baileys keeps key material (creds, pre-keys, sessions, app-state keys). */
const SECRET_PATH = /priv|secret|keyData|rootKey|chainKey/i;

/** Key material in a Baileys value: every binary value under a secret-named field, base64-encoded. */
export function keyMaterial(label: string, value: unknown, path = ''): Secret[] {
  if (value instanceof Uint8Array) return SECRET_PATH.test(path) && value.length >= 16 ? [{ label: `${label} ${path}`, value: Buffer.from(value).toString('base64'), binary: true }] : [];
  if (typeof value !== 'object' || value === null) return [];
  const buffer = value as { type?: unknown; data?: unknown };
  if (buffer.type === 'Buffer' && typeof buffer.data === 'string') return keyMaterial(label, Buffer.from(buffer.data, 'base64'), path);
  return Object.entries(value).flatMap(([name, child]) => keyMaterial(label, child, path ? `${path}.${name}` : name));
}

/**
 * Registers secrets a test created, for the end-of-run log check. No-op when the log capture is off
 * (LOG_CAPTURE_DIR unset). The values land in the run's private temp dir, removed after a clean check.
 */
export function registerSecrets(secrets: readonly Secret[]): void {
  const dir = process.env.LOG_CAPTURE_DIR;
  if (!dir || secrets.length === 0) return;
  appendFileSync(join(dir, `secrets-${process.pid}.jsonl`), secrets.map((secret) => `${JSON.stringify(secret)}\n`).join(''), { mode: 0o600 });
}

/** Registers the key material of a linked device (its creds and keys as the simulator handed them out). */
export function registerLinkedDevice(label: string, linked: { creds: unknown; keys: unknown }): void {
  registerSecrets([...keyMaterial(`${label} creds`, linked.creds), ...keyMaterial(`${label} keys`, linked.keys)]);
}
