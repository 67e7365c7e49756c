/**
 * Bench child: the real handler (functions/pin-chat.ts), bundled with the Lambda's esbuild options
 * together with this wrapper, invoked over IPC with API Gateway events. The wrapper exists because
 * the bundle inlines its own Baileys: only code inside the same bundle can make it trust the
 * simulator's root key (BENCH_WA_ROOT_KEY); the product has, on purpose, no switch for that.
 */
import { WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { handler } from '../functions/pin-chat.js';
import { lambdaContext } from '../test/support/events.js';
import { serveOverIpc } from './bench-child.js';

WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(process.env.BENCH_WA_ROOT_KEY ?? '', 'base64');

serveOverIpc(async (event) => {
  const response = (await handler(event as never, lambdaContext(29_000))) as { statusCode: number; body: string };
  return { ok: response.statusCode === 200, status: response.statusCode, error: response.statusCode === 200 ? undefined : response.body };
});
