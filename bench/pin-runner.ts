/**
 * Bench child: the real handler (functions/pin-chat.ts), bundled with the Lambda's esbuild options
 * together with this wrapper, invoked over IPC with API Gateway events. The wrapper exists to make the
 * process trust the simulator's root key (BENCH_WA_ROOT_KEY), as tests do; the product has, on purpose,
 * no switch for that. It loads no Baileys of its own: the handler's WhatsApp side loads as it ships.
 */
import { handler } from '../functions/pin-chat.js';
import { trustRootInProcess } from '../lib/whatsapp/process-root.js';
import { lambdaContext } from '../test/support/events.js';
import { serveOverIpc } from './bench-child.js';

trustRootInProcess(Buffer.from(process.env.BENCH_WA_ROOT_KEY ?? '', 'base64'));

serveOverIpc(async (event) => {
  const response = (await handler(event as never, lambdaContext(29_000))) as { statusCode: number; body: string };
  return { ok: response.statusCode === 200, status: response.statusCode, error: response.statusCode === 200 ? undefined : response.body };
});
