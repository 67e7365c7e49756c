// A Lambda process of its own: runs the real handler once on a sample event and prints the response.
// Started by test/reliability/process-faults.test.ts (node --import tsx), which may SIGKILL it mid-call.
import { WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { lambdaContext, loadEvent } from '../support/events.js';

WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(process.env.SIM_ROOT_PUBLIC_KEY ?? '', 'base64');
const { handler } = (await import('../../functions/pin-chat.js')) as unknown as { handler: (event: unknown, context: unknown) => Promise<unknown> };
const response = await handler(loadEvent('api-gateway-v2', process.env.PIN_EVENT ?? 'pin'), lambdaContext(29_000));
process.stdout.write(`RESULT ${JSON.stringify(response)}\n`);
process.exit(0);
