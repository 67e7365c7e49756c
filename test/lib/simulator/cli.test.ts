import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { childEnv, npmRun, tempDataDir, type NpmRun } from '../local/npm-start.js';
import { connectClient, endClient, type Client } from './baileys-client.js';

/** Whether something accepts TCP connections on the port of `url`. */
const listening = (url: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.unref();
  });

describe('npm run simulator (cli)', () => {
  const data = tempDataDir();
  let run: NpmRun | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    if (client) await endClient(client);
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
    data.remove();
  });

  it('prints its urls and demo device, keeps the auth state under the data dir, and stops on SIGTERM with nothing left listening', async () => {
    // Prepare
    run = npmRun(['simulator'], childEnv(data.dir));
    await run.line(/to stop\.$/, 60_000);
    const output = run.output();
    const url = /ws url:\s+(\S+)/.exec(output)![1]!;
    const rootKey = /root public key:\s+(\S+)/.exec(output)![1]!;
    const deviceJid = /demo device:\s+(\S+)/.exec(output)![1]!;
    const controlUrl = /control url:\s+(\S+)/.exec(output)![1]!;
    const { state } = await useMultiFileAuthState(join(data.dir, 'simulator-auth'));
    client = connectClient({ url, rootPublicKey: Buffer.from(rootKey, 'base64') }, { creds: state.creds, keys: state.keys, data: new Map() });
    const outcome = await client.settled;
    const remote = (await (await fetch(`${controlUrl}/state`)).json()) as { accounts: { devices: { jid: string; connections: { total: number } }[] }[] };

    // Act: SIGTERM to npm's pid, as a process manager sends it, while a client is connected
    run.child.kill('SIGTERM');
    const code = await run.exited;

    // Assess
    expect(outcome).toBe('open');
    expect(state.creds.me?.id).toBe(deviceJid);
    expect(output).toContain(`auth state in ${join(data.dir, 'simulator-auth')}/`);
    expect(remote.accounts[0]!.devices[0]).toMatchObject({ jid: deviceJid, connections: { total: 1 } });
    expect(code).toBe(0);
    expect(await listening(url.replace(/^ws/, 'http'))).toBe(false);
    expect(await listening(controlUrl)).toBe(false);
  }, 90_000);
});
