import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { useMultiFileAuthState } from '@whiskeysockets/baileys';
import { connectClient, endClient, type Client } from './baileys-client.js';

describe('npm run simulator (cli)', () => {
  let child: ChildProcess | undefined;
  let client: Client | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    if (client) await endClient(client);
    if (child && child.exitCode === null) {
      const exited = new Promise(resolve => child!.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints the ws url, root key, demo device and control url, and the demo device logs in from the written auth state', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    child = spawn(process.execPath, ['--import', 'tsx', 'lib/simulator/cli.ts', '--auth-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ctrl-C to stop.')) resolve();
      });
      child!.once('exit', code => reject(new Error(`cli exited with ${code}: ${output}`)));
    });
    const url = /ws url:\s+(\S+)/.exec(output)![1];
    const rootKey = /root public key:\s+(\S+)/.exec(output)![1];
    const deviceJid = /demo device:\s+(\S+)/.exec(output)![1];
    const controlUrl = /control url:\s+(\S+)/.exec(output)![1];
    const { state } = await useMultiFileAuthState(dir);
    // Act
    client = connectClient({ url, rootPublicKey: Buffer.from(rootKey, 'base64') }, { creds: state.creds, keys: state.keys, data: new Map() });
    const outcome = await client.settled;
    const remote = await (await fetch(`${controlUrl}/state`)).json() as { accounts: { devices: { jid: string; connections: { total: number } }[] }[] };
    // Assess
    expect(outcome).toBe('open');
    expect(state.creds.me?.id).toBe(deviceJid);
    expect(remote.accounts[0].devices[0]).toMatchObject({ jid: deviceJid, connections: { total: 1 } });
  });
});
