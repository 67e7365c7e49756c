import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { chromium, type BrowserContext } from 'playwright-core';
import { expectDocumented } from '../../support/documented.js';
import { childEnv, npmRun, tempDataDir, type NpmRun } from './npm-start.js';

// A newcomer's first pin from the docs page: `npm start`, then its /docs in Debian's Chromium (headless), with the
// printed credentials. `.ci/run` installs Chromium; the flags keep it off the network.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const data = tempDataDir();
const profile = mkdtempSync(join(tmpdir(), 'pin-docs-chromium-'));
let start: NpmRun | undefined;
let browser: BrowserContext | undefined;

afterAll(async () => {
  await browser?.close();
  if (start && start.child.exitCode === null) {
    start.child.kill('SIGTERM');
    await start.exited;
  }
  rmSync(profile, { recursive: true, force: true });
  data.remove();
});

describe('the docs page of npm start, in a real browser', () => {
  it('pins from /docs with the printed credentials: the page shows the 200, the simulated phone the pinned chat, nothing left the machine', async () => {
    // Prepare
    if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: apt-get install -y chromium (.ci/run installs it)`);
    start = npmRun(['start'], childEnv(data.dir, { PORT: '0' }));
    const docs = /^API docs: (\S+)/.exec(await start.line(/^API docs: /))![1]!;
    const [, user, password] = /^credentials: user (\S+), password (\S+)/.exec(await start.line(/^credentials: /))!;
    const url = new URL(docs).origin;
    // Chromium's own temporary files (its singleton socket, …) go under the profile too, removed after.
    browser = await chromium.launchPersistentContext(join(profile, 'user-data'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, env: { ...process.env, TMPDIR: profile } as Record<string, string> });
    const requested: string[] = [];
    browser.on('request', (request) => requested.push(request.url()));
    const page = browser.pages()[0] ?? (await browser.newPage());

    // Act
    await page.goto(docs);
    await page.getByRole('button', { name: 'Authorize' }).first().click();
    await page.getByLabel('auth-basic-username').fill(user!);
    await page.getByLabel('auth-basic-password').fill(password!);
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
    expect(phone.chats).toContainEqual(expect.objectContaining({ chatJid: '6289685028129@s.whatsapp.net', pinned: true }));
    expect(requested.filter((address) => !address.startsWith(`${url}/`))).toEqual([]);
  }, 240_000);
});
