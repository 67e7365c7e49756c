/**
 * Bench child: the real handler (functions/pin-chat.ts), bundled with the Lambda's esbuild options
 * together with this wrapper, invoked over IPC with API Gateway events. The wrapper exists to make the
 * process trust the simulator's root key (BENCH_WA_ROOT_KEY), as tests do; the product has, on purpose,
 * no switch for that. It loads no Baileys of its own: the handler's WhatsApp side loads as it ships. The bench gives it
 * a stand-in of Lambda's runtime API (AWS_LAMBDA_RUNTIME_API, lib/local/local-extensions-api.ts): the handler registers
 * its after-response extension at import, as in Lambda, and finishes each turn after its answer.
 */
import { handler } from '../functions/pin-chat.js';
import { trustRootInProcess } from '../lib/whatsapp/process-root.js';
import { lambdaContext } from '../test/support/events.js';
import { INVOCATION_MS, serveOverIpc } from './bench-child.js';

trustRootInProcess(Buffer.from(process.env.BENCH_WA_ROOT_KEY ?? '', 'base64'));

/** One invocation: the event, and its request id (the one the bench's runtime API gives the after-response extension); a bare event gets a request id of its own. */
export interface RunnerInput {
  event: unknown;
  requestId: string;
}

serveOverIpc(async (input) => {
  const { event, requestId } = typeof (input as RunnerInput).requestId === 'string' ? (input as RunnerInput) : { event: input, requestId: undefined };
  const response = (await handler(event as never, lambdaContext(INVOCATION_MS, requestId))) as { statusCode: number; body: string };
  return { ok: response.statusCode === 200, status: response.statusCode, error: response.statusCode === 200 ? undefined : response.body };
});
