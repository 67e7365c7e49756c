import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbSessionStore, ensureSessionTable } from './dynamodb-session-store.js';
import { exportFolder, importFolder } from './multi-file-folder.js';

const USAGE = `usage: npm run session -- <command> [--table NAME]
  import --device ID <folder>   import a Baileys useMultiFileAuthState folder
  export --device ID <folder>   write a device as a useMultiFileAuthState folder
  list                          devices, linked number, state, last use
  delete --device ID            delete everything stored for a device
Table: --table or SESSION_TABLE. AWS: the SDK's standard variables; AWS_ENDPOINT_URL_DYNAMODB
for a local endpoint (the table is then created if missing).`;

type Env = Record<string, string | undefined>;

/** Runs one session tool command; returns the exit code. */
export async function runSessionCli(argv: string[], env: Env = process.env, out: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { table: { type: 'string' }, device: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const [command, folder] = positionals;
  const tableName = values.table ?? env.SESSION_TABLE;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  if (!tableName) throw new Error('no table: pass --table or set SESSION_TABLE');
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new Error(`${command} needs ${what}`);
    return value;
  };
  const device = () => need(values.device, '--device ID');
  const target = () => need(folder, 'a folder');

  const local = env.AWS_ENDPOINT_URL_DYNAMODB;
  const client = new DynamoDBClient(
    local
      ? { endpoint: local, region: env.AWS_REGION ?? 'local', ...(env.AWS_ACCESS_KEY_ID ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }) }
      : {},
  );
  try {
    if (local) await ensureSessionTable(client, tableName);
    const store = new DynamoDbSessionStore(client, tableName);
    switch (command) {
      case 'import': {
        const { keys, skipped } = await importFolder(store, device(), target());
        out(`imported creds and ${keys} keys into device ${device()}${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`);
        return 0;
      }
      case 'export': {
        const { keys } = await exportFolder(store, device(), target());
        out(`exported creds and ${keys} keys of device ${device()} to ${target()}`);
        return 0;
      }
      case 'list': {
        out(['device', 'linked', 'state', 'last used'].join('\t'));
        for (const { deviceId, linkedJid, state, lastUsedAt } of await store.list()) {
          out([deviceId, linkedJid ?? '-', state, lastUsedAt ? new Date(lastUsedAt).toISOString() : '-'].join('\t'));
        }
        return 0;
      }
      case 'delete':
        await store.deleteDevice(device());
        out(`deleted device ${device()}`);
        return 0;
      default:
        out(`unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } finally {
    client.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSessionCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
