/**
 * Where `npm run login` and `npm run session` find the sessions table: a named table (`--table`, the deployed one,
 * through the standard AWS settings), or by default the local store — the DynamoDB Local of a running `npm start`
 * on the data dir (its `stack.json`), else one started on `<data dir>/dynamodb` for the time the tool runs.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureSessionTable } from '../session/dynamodb-session-store.js';
import { startDynamoDbLocal } from './dynamodb-local.js';
import { dataDir, LOCAL_TABLES, runningStack, shown, type WhatsAppMode } from './local-data.js';
import { localDynamoDbClient } from './local-stack.js';

type Env = Record<string, string | undefined>;

export interface SessionTable {
  client: DynamoDBClient;
  table: string;
  /** The local store's table: real or simulator sessions. */
  mode?: WhatsAppMode;
  /** One line saying which store this is, for the tool to print. */
  where: string;
  close(): Promise<void>;
}

/**
 * `table`: that table, on AWS_ENDPOINT_URL_DYNAMODB if set (a local endpoint: created if missing), else on AWS, once
 * the region and credentials resolve. Otherwise the local store, table `pin-sessions` or `pin-sessions-simulator`:
 * `mode` if given, else the running `npm start`'s mode, else real.
 */
export async function openSessionTable(options: { table?: string; mode?: WhatsAppMode; say?: (line: string) => void }, env: Env = process.env): Promise<SessionTable> {
  const { table } = options;
  if (table) {
    const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB;
    const client = endpoint ? localDynamoDbClient(endpoint) : new DynamoDBClient({});
    const close = async () => client.destroy();
    try {
      if (endpoint) await ensureSessionTable(client, table);
      else await assertAwsSettings(client, table);
    } catch (error) {
      await close();
      throw error;
    }
    return { client, table, where: `DynamoDB table ${table} (${endpoint ?? `AWS, ${await client.config.region()}`})`, close };
  }
  const dir = dataDir(env);
  const running = runningStack(dir);
  let endpoint = running?.env.AWS_ENDPOINT_URL_DYNAMODB;
  let stopDynamo: () => Promise<void> = async () => undefined;
  if (!endpoint) {
    const path = join(dir, 'dynamodb');
    mkdirSync(path, { recursive: true });
    options.say?.(`starting DynamoDB Local on ${shown(path)} (npm start is not running)…`);
    const dynamo = await startDynamoDbLocal({ path, sharedDb: true });
    ({ endpoint } = dynamo);
    stopDynamo = dynamo.stop;
  }
  const client = localDynamoDbClient(endpoint);
  const close = async () => {
    client.destroy();
    await stopDynamo();
  };
  const mode = options.mode ?? running?.mode ?? 'real';
  try {
    await ensureSessionTable(client, LOCAL_TABLES[mode]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    client,
    table: LOCAL_TABLES[mode],
    mode,
    where: `local DynamoDB ${endpoint} (${running ? "the running npm start's" : 'started for this command'}), table ${LOCAL_TABLES[mode]}`,
    close,
  };
}

/** The region and credentials the SDK would use, or a sentence saying what to set. */
async function assertAwsSettings(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.config.region();
  } catch {
    throw new Error(`no AWS region for table ${table}: set AWS_REGION (or AWS_PROFILE, with a region in its profile) to the deployed stack's region, or leave out --table and SESSION_TABLE to use the local store`);
  }
  try {
    await client.config.credentials();
  } catch {
    throw new Error(`no AWS credentials for table ${table}: set AWS_PROFILE (aws configure / aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the deployed account`);
  }
}

/** A DynamoDB failure on a named table as a sentence that says what to do (others unchanged). */
export function explainTableError(error: unknown, table: string): unknown {
  const name = (error as Error | undefined)?.name;
  if (name === 'ResourceNotFoundException') {
    return new Error(`table ${table} does not exist in this region: pass the TableName output of the stateful stack (see README, Deploy) and check AWS_REGION`, { cause: error });
  }
  if (name === 'AccessDeniedException' || name === 'UnrecognizedClientException' || name === 'ExpiredTokenException') {
    return new Error(`AWS refused the request on table ${table} (${name}): refresh or change your credentials (AWS_PROFILE), which need DynamoDB access to it`, { cause: error });
  }
  return error;
}
