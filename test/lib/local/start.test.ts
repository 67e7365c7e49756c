import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type BrowserContext } from 'playwright-core';
import { expectDocumented } from '../../support/documented.js';
import { childEnv, isAlive, npmRun, tempDataDir, type NpmRun } from './npm-start.js';

// A newcomer's path, all as child processes of the repository on one `npm start` (simulator): the curl it
// prints, run by a shell; invoke and the session tools next to it; the docs page in Debian's Chromium
// (headless; `.ci/run` installs it); `npm run login` against the simulated phone; Ctrl-C, and the data that stays.
const sh = promisify(execFile);
/** The printed curl with the status and content type after the body, as the answer expectDocumented takes. */
async function curl(command: string) {
  const [body, statusCode, contentType] = (await sh('sh', ['-c', `${command} -w '\\n%{http_code}\\n%{content_type}'`])).stdout.split('\n');
  return { statusCode: Number(statusCode), headers: { 'content-type': contentType }, body: body! };
}
const CHAT = '6289685028129@s.whatsapp.net';
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const data = tempDataDir();
const profile = mkdtempSync(join(tmpdir(), 'pin-docs-chromium-'));
let start: NpmRun;
let url: string;
let user: string;
let password: string;
let browser: BrowserContext | undefined;

beforeAll(async () => {
  start = npmRun(['start'], childEnv(data.dir, { PORT: '0' }));
  url = (await start.line(/^listening on /)).split(' ')[2]!;
  [, user, password] = /^credentials: user (\S+), password (\S+)/.exec(await start.line(/^credentials: /))! as unknown as [string, string, string];
  await start.line(/^Ctrl-C stops everything/);
}, 150_000);

afterAll(async () => {
  await browser?.close();
  // A test that failed half-way may leave `npm start` running: stop it (and its java child).
  if (start.child.exitCode === null) {
    start.child.kill('SIGTERM');
    await start.exited;
  }
  rmSync(profile, { recursive: true, force: true });
  data.remove();
});

describe('npm start', () => {
  it('serves the handler: the printed pin curl answers 200, the simulated phone shows only its chats, invoke and session list use it', async () => {
    // Prepare
    const pinCurl = await start.line(/^curl .*"pinned":true/);
    const unpinCurl = await start.line(/^curl .*"pinned":false/);
    const fourthCurl = await start.line(/^curl .*15550100102@s\.whatsapp\.net/);

    // Act: first two requests the function rejects, one with an un-normalised JID
    const unauthorized = await fetch(`${url}/chat/+62%20896-8502-8129/pin`, { method: 'POST', body: '{"pinned":true}' });
    const invalid = await curl(pinCurl.replace('{"pinned":true}', '{"pinned":"yes"}').replace('6289685028129@', '15550009999@'));
    const pinned = await curl(pinCurl);
    const phoneAfterPin = (await (await fetch(`${url}/simulator/chats`)).json()) as { phoneNumber: string; chats: Array<{ chatJid: string; pinned: boolean }> };
    const fourth = await curl(fourthCurl);
    const unpinned = await curl(unpinCurl);
    const phoneAfterUnpin = await (await fetch(`${url}/simulator/chats/${CHAT}`)).json();
    const invoke = npmRun(['invoke', '--', 'events/api-gateway-v2/pin.json', '--auth'], childEnv(data.dir));
    const invokeExit = await invoke.exited;
    const failingInvoke = npmRun(['invoke', '--', 'events/api-gateway-v2/pin.json'], childEnv(data.dir));
    const failingInvokeExit = await failingInvoke.exited;
    const sessions = npmRun(['session', '--', 'list'], childEnv(data.dir));
    const sessionsExit = await sessions.exited;
    const phoneAfterInvoke = await (await fetch(`${url}/simulator/chats/${CHAT}`)).json();
    const health = await fetch(`${url}/health`);
    const unknownRoute = await fetch(`${url}/chat/${CHAT}/unpin`, { method: 'POST' });

    // Assess
    expect(unauthorized.status).toBe(401);
    expectDocumented({ statusCode: unauthorized.status, headers: Object.fromEntries(unauthorized.headers), body: await unauthorized.text() });
    expect(invalid.statusCode).toBe(400);
    expect(pinned.statusCode).toBe(200);
    expect(JSON.parse(pinned.body)).toMatchObject({ code: 'SUCCESS', results: { chat_jid: CHAT, pinned: true } });
    expect(phoneAfterPin.phoneNumber).toBe('15550100001');
    expect(phoneAfterPin.chats.filter((chat) => chat.pinned).map((chat) => chat.chatJid).sort()).toEqual(['120363000000000001@g.us', '15550100101@s.whatsapp.net', CHAT]);
    expect(phoneAfterPin.chats.map((chat) => chat.chatJid).filter((jid) => jid.includes('+') || jid.startsWith('15550009999'))).toEqual([]);
    expect(fourth.statusCode).toBe(409);
    expect(JSON.parse(fourth.body)).toEqual({ code: '409', message: 'You can only pin up to 3 chats', results: {} });
    expect(unpinned.statusCode).toBe(200);
    for (const answer of [invalid, pinned, fourth, unpinned]) expectDocumented(answer);
    expect(phoneAfterUnpin).toMatchObject({ pinned: false });
    expect(invokeExit).toBe(0);
    expect(invoke.output()).toMatch(/using the running npm start/);
    expect(invoke.output()).toMatch(/"statusCode": 200/);
    expectDocumented(JSON.parse(/^\{$[\s\S]*?^\}$/m.exec(invoke.output())![0]));
    expect(phoneAfterInvoke).toMatchObject({ pinned: true });
    expect(failingInvokeExit).toBe(22);
    expect(failingInvoke.output()).toMatch(/"statusCode": 401/);
    expect(sessionsExit).toBe(0);
    expect(sessions.output()).toMatch(/^store: local DynamoDB http:\/\/127\.0\.0\.1:\d+ \(the running npm start's\), table pin-sessions-simulator/m);
    expect(sessions.output()).toMatch(/^default\t15550100001:1@s\.whatsapp\.net\tlinked\t/m);
    expect(health.status).toBe(200);
    expect(unknownRoute.status).toBe(404);
    expect(pinCurl).toContain(password);
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(start.output()).toMatch(/^POST \/chat\/6289685028129@s\.whatsapp\.net\/pin 200 \d+ms$/m);
  }, 120_000);

  it('pins from /docs with the printed credentials: the page shows the 200, the simulated phone the pinned chat, nothing left the machine', async () => {
    // Prepare
    if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: apt-get install -y chromium (.ci/run installs it)`);
    const docs = /^API docs: (\S+)/.exec(await start.line(/^API docs: /))![1]!;
    // Chromium's own temporary files (its singleton socket, …) go under the profile too, removed after.
    browser = await chromium.launchPersistentContext(join(profile, 'user-data'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, env: { ...process.env, TMPDIR: profile } as Record<string, string> });
    const requested: string[] = [];
    browser.on('request', (request) => requested.push(request.url()));
    const page = browser.pages()[0] ?? (await browser.newPage());

    // Act
    await page.goto(docs);
    await page.getByRole('button', { name: 'Authorize' }).first().click();
    await page.getByLabel('auth-basic-username').fill(user);
    await page.getByLabel('auth-basic-password').fill(password);
    await page.getByRole('button', { name: 'Apply credentials' }).click();
    await page.getByRole('button', { name: 'Close' }).click();
    await page.locator('#operations-chat-pinChat .opblock-summary-control').click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    const answer = page.waitForResponse((response) => response.url().includes('/chat/'));
    await page.getByRole('button', { name: 'Execute' }).click();
    const response = await answer;
    const shown = await page.locator('.live-responses-table tbody .response-col_status').innerText();
    const phone = (await (await fetch(`${url}/simulator/chats`)).json()) as { chats: unknown[] };

    // Assess
    expect(response.url()).toBe(`${url}/chat/6289685028129%40s.whatsapp.net/pin`);
    expect(response.status()).toBe(200);
    expectDocumented({ statusCode: response.status(), headers: await response.allHeaders(), body: await response.text() });
    expect(shown).toBe('200');
    expect(phone.chats).toContainEqual(expect.objectContaining({ chatJid: CHAT, pinned: true }));
    expect(requested.filter((address) => !address.startsWith(`${url}/`))).toEqual([]);
  }, 120_000);

  it('npm run login against the simulated phone links a new device (QR, 515 restart, key share, app-state sync persisted) that can then pin', async () => {
    // Prepare
    const auth = `Basic ${Buffer.from(readFileSync(join(data.dir, 'basic-auth'), 'utf8').trim()).toString('base64')}`;
    const unpin = (deviceId: string) =>
      fetch(`${url}/chat/${CHAT}/pin`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', 'x-device-id': deviceId }, body: '{"pinned":false}' });
    const before = await unpin('newcomer');

    // Act
    const login = npmRun(['login', '--', '--simulator', `${url}/simulator`, '--device', 'newcomer', '--timeout', '30'], childEnv(data.dir));
    const exitCode = await login.exited;
    const deviceJid = /linked as (\S+);/.exec(login.output())?.[1];
    const after = await unpin('newcomer');
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
    expect(phone).toMatchObject({ chatJid: CHAT, pinned: false, byDevice: deviceJid });
    expect(await again.exited).toBe(1);
    expect(again.output()).toMatch(/device "newcomer" is already linked .*--force/);
  }, 120_000);

  it('SIGTERM stops everything it started, DynamoDB Local included; the data stays (the session tools find both devices)', async () => {
    // Prepare
    const javaPid = Number(/java pid (\d+)/.exec(await start.line(/java pid \d+/))![1]);
    // Act: stop, then read the store on the data dir without npm start (the session tools start DynamoDB Local on it)
    start.child.kill('SIGTERM');
    await start.exited;
    const sessions = npmRun(['session', '--', 'list', '--simulator'], childEnv(data.dir));
    const sessionsExit = await sessions.exited;
    // Assess
    expect(start.output()).toMatch(/^SIGTERM: stopping…\nstopped$/m);
    expect(isAlive(javaPid)).toBe(false);
    expect(existsSync(join(data.dir, 'stack.json'))).toBe(false);
    expect(readFileSync(join(data.dir, 'basic-auth'), 'utf8')).toContain(password);
    expect(sessionsExit).toBe(0);
    expect(sessions.output()).toMatch(/^default\t15550100001:1@s\.whatsapp\.net\tlinked\t/m);
    expect(sessions.output()).toMatch(/^newcomer\t15550100001:\d+@s\.whatsapp\.net\tlinked\t/m);
  }, 120_000);
});
