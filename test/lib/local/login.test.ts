import { afterAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, npmRun, tempDataDir, type NpmRun } from './npm-start.js';

// A newcomer's second step, both as child processes: `npm start` (simulator), then `npm run login` against its
// simulated phone, which scans the QR and shares the app-state key; the new device then pins through the API.
const data = tempDataDir();
const CHAT = '6289685028129@s.whatsapp.net';
let start: NpmRun | undefined;

afterAll(async () => {
  if (start && start.child.exitCode === null) {
    start.child.kill('SIGTERM');
    await start.exited;
  }
  data.remove();
});

describe('npm run login against the simulator', () => {
  it('links a new device (QR, 515 restart, key share persisted) that can then pin', async () => {
    // Prepare
    start = npmRun(['start'], childEnv(data.dir, { PORT: '0' }));
    const url = (await start.line(/^listening on /)).split(' ')[2]!;
    await start.line(/^curl /);
    const auth = `Basic ${Buffer.from(readFileSync(join(data.dir, 'basic-auth'), 'utf8').trim()).toString('base64')}`;
    const pin = (deviceId: string) =>
      fetch(`${url}/chat/${CHAT}/pin`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', 'x-device-id': deviceId }, body: '{"pinned":true}' });
    const before = await pin('newcomer');

    // Act
    const login = npmRun(['login', '--', '--simulator', `${url}/simulator`, '--device', 'newcomer', '--timeout', '30'], childEnv(data.dir));
    const exitCode = await login.exited;
    const deviceJid = /linked as (\S+);/.exec(login.output())?.[1];
    const after = await pin('newcomer');
    const phone = await (await fetch(`${url}/simulator/chats/${CHAT}`)).json();
    const again = npmRun(['login', '--', '--simulator', `${url}/simulator`, '--device', 'newcomer'], childEnv(data.dir));

    // Assess
    expect(before.status).toBe(500);
    expect(exitCode).toBe(0);
    expect(login.output().split('\n').filter((line) => /^(connecting|scan now|paired|reconnecting|linked as|key received|ready)/.test(line)).map((line) => line.split(/[ ;:(]/)[0])).toEqual([
      'connecting', 'scan', 'paired', 'reconnecting', 'linked', 'key', 'ready',
    ]);
    expect(login.output()).toMatch(/^app state synced: version \d+$/m);
    expect(deviceJid).toMatch(/^15550100001:\d+@s\.whatsapp\.net$/);
    expect(deviceJid).not.toBe('15550100001:1@s.whatsapp.net');
    expect(after.status).toBe(200);
    expect(phone).toMatchObject({ chatJid: CHAT, pinned: true, byDevice: deviceJid });
    expect(await again.exited).toBe(1);
    expect(again.output()).toMatch(/device "newcomer" is already linked .*--force/);
  }, 240_000);
});
