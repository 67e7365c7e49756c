/**
 * `npm run simulator [-- --port 4100 --control-port 4101 --latency 0 --phone 15550000001 --auth-dir <dir> --entries 0]`
 * Starts the simulator with a demo account and one linked demo device whose Baileys auth state is written to --auth-dir
 * (useMultiFileAuthState format; default <tmpdir>/whatsapp-simulator-auth), prints how to reach it, and runs until Ctrl-C.
 * --entries N seeds the demo account's regular_low with a realistic history of N entries (snapshot + later patches,
 * two key generations) before the demo device is linked.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { startControlServer } from './control-server.js';
import { startSimulator } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'control-port': { type: 'string', default: '0' },
    latency: { type: 'string', default: '0' },
    phone: { type: 'string' },
    'auth-dir': { type: 'string', default: join(tmpdir(), 'whatsapp-simulator-auth') },
    entries: { type: 'string', default: '0' },
  },
});

const sim = await startSimulator({ port: Number(values.port), latencyMs: Number(values.latency) });
const account = sim.createAccount({ phoneNumber: values.phone, name: 'Demo' });
const entries = Number(values.entries);
const seeded = entries > 0 ? await sim.seedAppState(account.phoneNumber, { entries }) : undefined;
const device = await sim.linkDevice(account.phoneNumber);
const { state, saveCreds } = await useMultiFileAuthState(values['auth-dir']);
Object.assign(state.creds, device.creds);
await saveCreds();
await state.keys.set(device.keys);
const control = await startControlServer(sim, { port: Number(values['control-port']) });

console.log(`WhatsApp simulator
  ws url:          ${sim.url}
  root public key: ${Buffer.from(sim.rootPublicKey).toString('base64')}   (set WA_CERT_DETAILS.PUBLIC_KEY to it)
  demo account:    ${account.phoneNumber} (${account.lid})
  demo device:     ${device.deviceJid}   auth state in ${values['auth-dir']}/
  media url:       ${sim.mediaUrl}   (WHATSAPP_MEDIA_URL)${seeded ? `
  app state:       ${entries} entries seeded, regular_low v${seeded.version} (snapshot v${seeded.snapshotVersion})` : ''}
  control url:     ${control.url}   (GET /state, POST /faults, POST /phone/pin, POST /phone/scan, GET /chats/${account.phoneNumber}; README.md lists all)
Ctrl-C to stop.`);

const shutdown = async () => {
  await control.close();
  await sim.stop();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
