/**
 * `npm start`: the real handler on http://127.0.0.1:PORT behind a thin API Gateway adapter, with DynamoDB Local
 * (persisted under the data dir), a loopback Secrets Manager and, unless --real / WHATSAPP=real, the simulator.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { serveApiDocs } from './api-docs.js';
import { apiGatewayRoute, readBody, writeJson } from './api-gateway-adapter.js';
import { dataDir, localCredentials, shown, removeStackFile, runningStack, writeStackFile, type WhatsAppMode } from './local-data.js';
import { DEMO_FOURTH_CHAT, DEMO_PINNED, loadHandler, startLocalStack, type SimulatorDemo } from './local-stack.js';

const USAGE = `usage: npm start [-- --real] [--port N]
  --real       real WhatsApp (devices linked with \`npm run login\`) instead of the simulator; or WHATSAPP=real
  --port N     listen on 127.0.0.1:N (default PORT or 3000; 0 = any free port)`;

/** Set once the stack runs: Ctrl-C, SIGTERM or a failure stop what was started (DynamoDB Local's java child included). */
let stopStack: (() => Promise<void>) | undefined;
/** The stack while it starts: a Ctrl-C then waits for it, so that no java process is left behind. */
let starting: Promise<unknown> | undefined;
let stopping = false;
async function shutdown(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${reason}: stopping…`);
  if (!stopStack) await starting?.catch(() => undefined);
  await stopStack?.();
  console.log('stopped');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown('SIGINT', 0));
process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

const quote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** The simulated phone's side: its view of chats, its state for the login tool, its QR scanner. */
function simulatorRoutes(demo: SimulatorDemo) {
  const view = (chatJid: string) => ({ chatJid, ...(demo.sim.chatState(demo.account.phoneNumber, chatJid) ?? { pinned: false }) });
  return async (request: IncomingMessage, response: ServerResponse, body: Buffer): Promise<boolean> => {
    const path = new URL(request.url ?? '/', 'http://local').pathname;
    if (request.method === 'GET' && path === '/simulator/chats') {
      writeJson(response, 200, { phoneNumber: demo.account.phoneNumber, chats: demo.sim.chats(demo.account.phoneNumber) });
    } else if (request.method === 'GET' && path.startsWith('/simulator/chats/')) {
      writeJson(response, 200, view(decodeURIComponent(path.slice('/simulator/chats/'.length))));
    } else if (request.method === 'GET' && path === '/simulator/state') {
      writeJson(response, 200, { url: demo.sim.url, mediaUrl: demo.sim.mediaUrl, rootPublicKey: Buffer.from(demo.sim.rootPublicKey).toString('base64'), phoneNumber: demo.account.phoneNumber });
    } else if (request.method === 'POST' && path === '/simulator/phone/scan') {
      const { qr, phoneNumber = demo.account.phoneNumber } = JSON.parse(body.toString('utf8') || '{}') as { qr?: string; phoneNumber?: string };
      if (typeof qr !== 'string') return (writeJson(response, 400, { message: 'body: {"qr": string, "phoneNumber"?: string}' }), true);
      await demo.sim.scanQr(qr, phoneNumber).then(
        () => writeJson(response, 200, { scanned: true }),
        (error: Error) => writeJson(response, 409, { message: error.message }),
      );
    } else return false;
    return true;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { real: { type: 'boolean' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return console.log(USAGE);
  const mode: WhatsAppMode = values.real || process.env.WHATSAPP?.trim().toLowerCase() === 'real' ? 'real' : 'simulator';
  const port = Number(values.port ?? process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port ${values.port ?? process.env.PORT}`);
  const dir = dataDir();
  const other = runningStack(dir);
  if (other) throw new Error(`npm start is already running on ${shown(dir)} (pid ${other.pid}, ${other.url})`);

  console.log(`starting (${mode === 'simulator' ? 'WhatsApp simulator' : 'real WhatsApp'}, data in ${shown(dir)})…`);
  const credentials = localCredentials(dir);
  const startingStack = startLocalStack({ dataDir: dir, mode, credentials });
  starting = startingStack;
  const stack = await startingStack;
  stopStack = stack.stop;
  if (stopping) return;
  const handler = await loadHandler(stack.env);
  const simulator = stack.demo && simulatorRoutes(stack.demo);
  const api = apiGatewayRoute(handler);

  const server = createServer((request, response) => {
    const started = performance.now();
    const path = new URL(request.url ?? '/', 'http://local').pathname;
    response.on('finish', () => console.log(`${request.method} ${path} ${response.statusCode} ${Math.round(performance.now() - started)}ms`));
    void (async () => {
      const body = await readBody(request);
      if (request.method === 'GET' && path === '/health') return writeJson(response, 200, { status: 'ok', whatsapp: mode });
      if (serveApiDocs(request, response)) return;
      if (simulator && (await simulator(request, response, body))) return;
      await api(request, response, body);
    })().catch((error: unknown) => {
      console.error(`error: ${(error as Error).message}`);
      if (!response.headersSent) writeJson(response, 500, { message: 'Internal Server Error' });
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  stopStack = async () => {
    server.closeAllConnections();
    server.close();
    await stack.stop();
    removeStackFile(dir);
  };
  writeStackFile(dir, {
    pid: process.pid, mode, url, env: stack.env,
    ...(stack.demo && { rootPublicKey: Buffer.from(stack.demo.sim.rootPublicKey).toString('base64'), simulatorControl: `${url}/simulator` }),
  });

  const linked = stack.demo ? [] : (await stack.store.list()).filter((device) => device.state === 'linked');
  const auth = quote(`${credentials.user}:${credentials.password}`);
  const curl = (chatJid: string, pinned: boolean) =>
    `curl -sS -u ${auth} -H 'Content-Type: application/json' -d '{"pinned":${pinned}}' ${url}/chat/${chatJid}/pin`;
  const chat = stack.demo?.chatJid ?? '6281234567890@s.whatsapp.net';
  const lines = [
    `listening on ${url}   (GET ${url}/health, no auth)`,
    `credentials: user ${credentials.user}, password ${credentials.password}` +
      (credentials.source === 'BASIC_AUTH' ? ' (from BASIC_AUTH)' : ` (${credentials.source} in ${shown(credentials.file!)}; set BASIC_AUTH to choose your own)`),
    `API docs: ${url}/docs (Authorize with these credentials, then "Try it out"); the document: ${url}/openapi.yaml`,
    `DynamoDB Local: ${stack.env.AWS_ENDPOINT_URL_DYNAMODB} (java pid ${stack.dynamoDbPid}), table ${stack.table}, data in ${shown(dir)}/dynamodb`,
    ...(stack.demo
      ? [
          `demo device: "${stack.demo.deviceId}" (default), linked to the simulated phone +${stack.demo.account.phoneNumber} as ${stack.demo.deviceJid}`,
          `demo chat: ${chat}; the simulated phone already has 2 chats pinned (${DEMO_PINNED.join(', ')}): pin the demo chat as a third,`,
          `then a fourth (${DEMO_FOURTH_CHAT}) answers 409 "You can only pin up to 3 chats" (WhatsApp shows 3). Chats not on the simulated WhatsApp answer 404.`,
        ]
      : [
          linked.length
            ? `real WhatsApp, linked devices: ${linked.map((device) => `"${device.deviceId}" (${device.linkedJid})`).join(', ')}`
            : 'real WhatsApp: no device linked yet; link your account with `npm run login` (this can keep running)',
          `replace ${chat} with a chat of yours; pick a device with -H 'X-Device-Id: ID' (default: ${process.env.DEFAULT_DEVICE_ID || 'default'})`,
        ]),
    '',
    'pin:',
    curl(chat, true),
    'unpin:',
    curl(chat, false),
    ...(stack.demo ? ['a fourth pin (409 while 3 are pinned):', curl(DEMO_FOURTH_CHAT, true)] : []),
    ...(stack.demo
      ? [
          "the simulated phone's view (which chats are pinned):",
          `curl -sS ${url}/simulator/chats`,
          `link another device to the simulated phone (it scans the QR by itself): npm run login -- --simulator ${url}/simulator --device my-device`,
        ]
      : []),
    '',
    'Ctrl-C stops everything.',
  ];
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown('failed', 1);
});
