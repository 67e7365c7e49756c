import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { expectDocumented } from '../../support/documented.js';
import { childEnv, isAlive, npmRun, tempDataDir, type NpmRun } from './npm-start.js';

// `npm start` as a newcomer runs it: a child process of the repository, then the curl it prints, run by a shell.
const sh = promisify(execFile);
/** The printed curl with the status and content type after the body, as the answer expectDocumented takes. */
async function curl(command: string) {
  const [body, statusCode, contentType] = (await sh('sh', ['-c', `${command} -w '\\n%{http_code}\\n%{content_type}'`])).stdout.split('\n');
  return { statusCode: Number(statusCode), headers: { 'content-type': contentType }, body: body! };
}
const data = tempDataDir();
let start: NpmRun | undefined;

afterAll(async () => {
  // A test that failed half-way may leave `npm start` running: stop it (and its java child).
  if (start && start.child.exitCode === null) {
    start.child.kill('SIGTERM');
    await start.exited;
  }
  data.remove();
});

describe('npm start', () => {
  it('serves the handler: the printed pin curl answers 200, the simulated phone shows only its chats, invoke and session list use it, SIGTERM stops DynamoDB Local, a restart keeps the data', async () => {
    // Prepare
    start = npmRun(['start'], childEnv(data.dir, { PORT: '0' }));
    const pinCurl = await start.line(/^curl .*"pinned":true/);
    const unpinCurl = await start.line(/^curl .*"pinned":false/);
    const fourthCurl = await start.line(/^curl .*15550100102@s\.whatsapp\.net/);
    const url = (await start.line(/^listening on /)).split(' ')[2]!;
    const javaPid = Number(/java pid (\d+)/.exec(await start.line(/java pid \d+/))![1]);
    const password = /password (\S+)/.exec(await start.line(/^credentials: /))![1]!;

    // Act: first two requests the function rejects, one with an un-normalised JID
    const unauthorized = await fetch(`${url}/chat/+62%20896-8502-8129/pin`, { method: 'POST', body: '{"pinned":true}' });
    const invalid = await curl(pinCurl.replace('{"pinned":true}', '{"pinned":"yes"}').replace('6289685028129@', '15550009999@'));
    const pinned = await curl(pinCurl);
    const phoneAfterPin = (await (await fetch(`${url}/simulator/chats`)).json()) as { phoneNumber: string; chats: Array<{ chatJid: string; pinned: boolean }> };
    const fourth = await curl(fourthCurl);
    const unpinned = await curl(unpinCurl);
    const phoneAfterUnpin = await (await fetch(`${url}/simulator/chats/6289685028129@s.whatsapp.net`)).json();
    const invoke = npmRun(['invoke', '--', 'events/api-gateway-v2/pin.json', '--auth'], childEnv(data.dir));
    const invokeExit = await invoke.exited;
    const failingInvoke = npmRun(['invoke', '--', 'events/api-gateway-v2/pin.json'], childEnv(data.dir));
    const failingInvokeExit = await failingInvoke.exited;
    const sessions = npmRun(['session', '--', 'list'], childEnv(data.dir));
    const sessionsExit = await sessions.exited;
    const phoneAfterInvoke = await (await fetch(`${url}/simulator/chats/6289685028129@s.whatsapp.net`)).json();
    const health = await fetch(`${url}/health`);
    const unknownRoute = await fetch(`${url}/chat/6289685028129@s.whatsapp.net/unpin`, { method: 'POST' });
    start.child.kill('SIGTERM');
    await start.exited;
    const restart = npmRun(['start'], childEnv(data.dir, { PORT: '0' }));
    const restartCredentials = await restart.line(/^credentials: /);
    restart.child.kill('SIGTERM');
    await restart.exited;

    // Assess
    expect(unauthorized.status).toBe(401);
    expectDocumented({ statusCode: unauthorized.status, headers: Object.fromEntries(unauthorized.headers), body: await unauthorized.text() });
    expect(invalid.statusCode).toBe(400);
    expect(pinned.statusCode).toBe(200);
    expect(JSON.parse(pinned.body)).toMatchObject({ code: 'SUCCESS', results: { chat_jid: '6289685028129@s.whatsapp.net', pinned: true } });
    expect(phoneAfterPin.phoneNumber).toBe('15550100001');
    expect(phoneAfterPin.chats.filter((chat) => chat.pinned).map((chat) => chat.chatJid).sort()).toEqual(['120363000000000001@g.us', '15550100101@s.whatsapp.net', '6289685028129@s.whatsapp.net']);
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
    expect(start.output()).toMatch(/^SIGTERM: stopping…\nstopped$/m);
    expect(isAlive(javaPid)).toBe(false);
    expect(existsSync(join(data.dir, 'dynamodb'))).toBe(true);
    expect(existsSync(join(data.dir, 'stack.json'))).toBe(false);
    expect(restartCredentials).toContain(`password ${password} (stored in`);
  }, 240_000);
});
