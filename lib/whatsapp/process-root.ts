/**
 * A certificate root this process trusts in place of WhatsApp's: what only tests, the local runner and the
 * bench do (production never sets it; no env var or config reaches it). One for every module graph of the
 * process, each with its own Baileys, which reads it before each connection (certificate-signature.ts).
 * Kept apart from Baileys, so that setting it loads nothing.
 */
const PROCESS_ROOT = Symbol.for('whatsapp-pin-api.trusted-root');
const holder = globalThis as { [PROCESS_ROOT]?: Buffer };

/** Trusts `rootPublicKey` (the simulator's root) in this whole process. */
export function trustRootInProcess(rootPublicKey: Uint8Array): void {
  holder[PROCESS_ROOT] = Buffer.from(rootPublicKey);
}

/** The root trusted in this process, if one was set. */
export const processRoot = (): Buffer | undefined => holder[PROCESS_ROOT];
