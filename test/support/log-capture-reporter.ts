import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { DynamoDBClient, ListTablesCommand, paginateScan, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { keyMaterial } from './log-capture-secrets.ts';
import { noise, scan, TEST_PASSWORDS, type Finding, type Secret } from './log-capture-scan.ts';

/**
 * A jest reporter (loaded natively by Node 22 in jest's main process, hence the .ts imports): creates
 * the run's log capture dir before the workers start (they inherit LOG_CAPTURE_DIR), and once the run
 * completes scans every captured line for the test passwords, secrets tests registered, the key
 * material of every session stored in DynamoDB Local during the run, and secret-shaped patterns; and
 * for noise a passing run must not print (ERROR lines, stack traces, Powertools' empty-metrics warning)
 * outside expectLogs. A finding fails the run (getLastError) and is shown by file, line and kind, never by value.
 */
export default class LogCaptureReporter {
  private readonly dir = mkdtempSync(join(tmpdir(), 'log-capture-'));
  private error: Error | undefined;

  constructor() {
    process.env.LOG_CAPTURE_DIR = this.dir;
  }

  async onRunComplete(): Promise<void> {
    const files = readdirSync(this.dir);
    const logs = files.filter((name) => name.endsWith('.log'));
    const secrets: Secret[] = [
      ...TEST_PASSWORDS.map((value) => ({ label: 'a test API password', value })),
      ...files.filter((name) => name.startsWith('secrets-')).flatMap((name) => readLines(join(this.dir, name)).map((line) => JSON.parse(line) as Secret)),
      ...(await storedKeyMaterial()),
    ];
    const texts = logs.map((name) => [name, readFileSync(join(this.dir, name), 'utf8')] as const);
    const findings: Finding[] = texts.flatMap(([name, text]) => scan(name, text, secrets));
    const noisy: Finding[] = texts.flatMap(([name, text]) => noise(name, text));
    const lines = logs.reduce((sum, name) => sum + readLines(join(this.dir, name)).length, 0);
    if (findings.length === 0 && noisy.length === 0) {
      process.stderr.write(`log capture: ${lines} lines from ${logs.length} processes checked against ${secrets.length} secrets and for noise: clean${process.env.LOG_CAPTURE_KEEP ? ` (kept in ${this.dir})` : ''}\n`);
      if (!process.env.LOG_CAPTURE_KEEP) rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    const shown = (list: Finding[]) => list.slice(0, 20).map(({ file, line, what }) => `  ${join(this.dir, file)}:${line}: ${what}`).join('\n');
    this.error = new Error([
      ...(findings.length ? [`log capture: ${findings.length} log lines show secrets:\n${shown(findings)}`] : []),
      ...(noisy.length ? [`log capture: ${noisy.length} log lines a passing run must not print (wrap expected ones in expectLogs and assert them):\n${shown(noisy)}`] : []),
    ].join('\n'));
    process.stderr.write(`${this.error.message}\n`);
  }

  getLastError(): Error | undefined {
    return this.error;
  }
}

const readLines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

/** Key material of every session any test stored in the run's DynamoDB Local (creds and keys items). */
async function storedKeyMaterial(): Promise<Secret[]> {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!endpoint) return [];
  const client = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const secrets: Secret[] = [];
    const tables: string[] = [];
    let start: string | undefined;
    do {
      const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      tables.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    for (const table of tables) {
      const parts = new Map<string, Buffer[]>();
      for await (const page of paginateScan({ client }, { TableName: table })) {
        for (const item of page.Items ?? []) {
          const json = item.creds?.S ?? item.v?.S;
          if (json) secrets.push(...keyMaterial(`stored ${item.sk?.S ?? ''}`, parse(json)));
          if (item.z?.B) collectPart(parts, item);
        }
      }
      for (const [name, chunks] of parts) secrets.push(...keyMaterial(`stored ${name}`, parse(inflate(chunks))));
    }
    return secrets;
  } catch {
    return [];
  } finally {
    client.destroy();
  }
}

function collectPart(parts: Map<string, Buffer[]>, item: Record<string, AttributeValue>) {
  const name = `${item.pk?.S}#${item.t?.S}#${item.i?.S}`;
  const chunks = parts.get(name) ?? parts.set(name, []).get(name)!;
  chunks[Number(item.p?.N ?? 0)] = Buffer.from(item.z!.B!);
}

const inflate = (chunks: Buffer[]) => {
  try {
    return inflateSync(Buffer.concat(chunks.filter(Boolean))).toString('utf8');
  } catch {
    return 'null';
  }
};

const parse = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
};
