/**
 * The baseline: the obvious Lambda pin. Baileys with a useMultiFileAuthState folder, wait for the
 * connection, chatModify({ pin }), end. Default Baileys options except a silent logger.
 * Run as a bench child (BENCH_NAIVE=1) it serves pins over IPC.
 */
import { makeWASocket, useMultiFileAuthState, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { serveOverIpc } from './bench-child.js';

export interface NaivePinInput {
  folder: string;
  wsUrl: string;
  chatJid: string;
  pinned: boolean;
}

const noop = () => undefined;
const silent = { level: 'silent', trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop, child: () => silent };

export async function naivePin({ folder, wsUrl, chatJid, pinned }: NaivePinInput): Promise<void> {
  const { state, saveCreds } = await useMultiFileAuthState(folder);
  const sock = makeWASocket({ auth: state, waWebSocketUrl: wsUrl, logger: silent as never });
  sock.ev.on('creds.update', saveCreds);
  await new Promise<void>((resolve, reject) =>
    sock.ev.on('connection.update', ({ connection, lastDisconnect }) => {
      if (connection === 'open') resolve();
      if (connection === 'close') reject(lastDisconnect?.error ?? new Error('connection closed'));
    }),
  );
  try {
    await sock.chatModify({ pin: pinned }, chatJid);
  } finally {
    await sock.end(undefined);
  }
}

if (process.env.BENCH_NAIVE === '1') {
  // The simulator's certificate root instead of WhatsApp's (bench only).
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(process.env.BENCH_WA_ROOT_KEY ?? '', 'base64');
  serveOverIpc(async (input) => {
    await naivePin(input as NaivePinInput);
    return { ok: true };
  });
}
