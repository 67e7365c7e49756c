/**
 * `npm run simulator [-- --port 4100 --control-port 4101 --latency 0 --phone 15550000001 --auth-dir <dir> --entries 0]`
 * Starts the simulator with a demo account and one linked demo device whose Baileys auth state is written to --auth-dir
 * (useMultiFileAuthState format; default <data dir>/simulator-auth, the data dir being DATA_DIR or .data), prints how to
 * reach it, and runs until SIGINT (Ctrl-C) or SIGTERM.
 * --entries N seeds the demo account's regular_low with a realistic history of N entries (snapshot + later patches,
 * two key generations) before the demo device is linked.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { dataDir, shown } from '../local/local-data.js';
import { startControlServer, type ControlServer } from './control-server.js';
import { startSimulator, type Simulator } from './index.js';

// Registered first: a signal during start-up stops what was started so far; a second signal exits at once.
let sim: Simulator | undefined;
let control: ControlServer | undefined;
let stopping = false;
const shutdown = async () => {
  if (stopping) process.exit(1);
  stopping = true;
  await control?.close().catch(() => undefined);
  await sim?.stop().catch(() => undefined);
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'control-port': { type: 'string', default: '0' },
    latency: { type: 'string', default: '0' },
    phone: { type: 'string' },
    'auth-dir': { type: 'string' },
    entries: { type: 'string', default: '0' },
  },
});
const authDir = values['auth-dir'] ?? join(dataDir(), 'simulator-auth');

sim = await startSimulator({ port: Number(values.port), latencyMs: Number(values.latency) });
const account = sim.createAccount({ phoneNumber: values.phone, name: 'Demo' });
const entries = Number(values.entries);
const seeded = entries > 0 ? await sim.seedAppState(account.phoneNumber, { entries }) : undefined;
const device = await sim.linkDevice(account.phoneNumber);
const { state, saveCreds } = await useMultiFileAuthState(authDir);
Object.assign(state.creds, device.creds);
await saveCreds();
await state.keys.set(device.keys);
control = await startControlServer(sim, { port: Number(values['control-port']) });

console.log(`WhatsApp simulator
  ws url:          ${sim.url}
  root public key: ${Buffer.from(sim.rootPublicKey).toString('base64')}   (set WA_CERT_DETAILS.PUBLIC_KEY to it)
  demo account:    ${account.phoneNumber} (${account.lid})
  demo device:     ${device.deviceJid}   auth state in ${shown(authDir)}/
  media url:       ${sim.mediaUrl}   (WHATSAPP_MEDIA_URL)${seeded ? `
  app state:       ${entries} entries seeded, regular_low v${seeded.version} (snapshot v${seeded.snapshotVersion})` : ''}
  control url:     ${control.url}   (GET /state, POST /faults, POST /phone/pin, POST /phone/scan, GET /chats/${account.phoneNumber}; README.md lists all)
Ctrl-C (or SIGTERM) to stop.`);
