/**
 * `npm run invoke -- <event.json>`: the handler once on an event file, against the local stack (the one
 * of a running `npm start` on the same data dir, else one started for this call), printing the response.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { localContext } from './api-gateway-adapter.js';
import { dataDir, localCredentials, runningStack, type WhatsAppMode } from './local-data.js';
import { loadHandler, startLocalStack, trustSimulatorRoot } from './local-stack.js';

const USAGE = `usage: npm run invoke -- <event.json> [--auth] [--real]
  --auth   replace the event's Authorization header with the local credentials (the sample events carry
           gowa:pin-test-password, which the local stack does not accept unless BASIC_AUTH includes it)
  --real   real WhatsApp instead of the simulator (only when no \`npm start\` is running; or WHATSAPP=real)
Exits 22, as curl -f does, when the function answers an error: HTTP status 400 or more, a direct call's error
envelope, or SQS records in batchItemFailures; 1 when it cannot run.`;

/** The exit code curl -f would give the function's answer: 22 for an error, 0 otherwise. */
export function exitCodeOf(result: unknown): number {
  const answer = (result ?? {}) as { statusCode?: number; code?: unknown; batchItemFailures?: unknown[] };
  const failed = (answer.statusCode ?? 0) >= 400 || (typeof answer.code === 'string' && answer.code !== 'SUCCESS') || (answer.batchItemFailures?.length ?? 0) > 0;
  return failed ? 22 : 0;
}

/** The event with its Authorization header (any case) set to HTTP Basic for `user:password`. */
export function withBasicAuth<T>(event: T, userPassword: string): T {
  const copy = structuredClone(event) as T & { headers?: Record<string, string> };
  if (!copy.headers) return copy;
  for (const name of Object.keys(copy.headers)) if (name.toLowerCase() === 'authorization') delete copy.headers[name];
  copy.headers.authorization = `Basic ${Buffer.from(userPassword).toString('base64')}`;
  return copy;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { auth: { type: 'boolean' }, real: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  const [file] = positionals;
  if (values.help || !file) return (console.log(USAGE), values.help ? 0 : 2);
  let event = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const dir = dataDir();
  const credentials = localCredentials(dir);
  if (values.auth) event = withBasicAuth(event, `${credentials.user}:${credentials.password}`);

  const running = runningStack(dir);
  const mode: WhatsAppMode = values.real || process.env.WHATSAPP?.trim().toLowerCase() === 'real' ? 'real' : 'simulator';
  const stack = running ? undefined : await startLocalStack({ dataDir: dir, mode, credentials });
  try {
    if (running?.rootPublicKey) trustSimulatorRoot(Buffer.from(running.rootPublicKey, 'base64'));
    console.error(running ? `using the running npm start (${running.url}, ${running.mode})` : `started a local stack (${mode}) for this call`);
    const handler = await loadHandler(running?.env ?? stack!.env);
    const result = await handler(event, localContext());
    console.log(JSON.stringify(result, null, 2));
    if ((result as { statusCode?: number } | undefined)?.statusCode === 401 && !values.auth) {
      console.error('401: the event carries other credentials than the local ones; add --auth to use the local credentials');
    }
    const code = exitCodeOf(result);
    if (code) console.error(`the function answered an error: exit ${code} (as curl -f)`);
    return code;
  } finally {
    await stack?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
