import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { explainTableError, openSessionTable } from '../local/session-table.js';
import { DynamoDbSessionStore } from './dynamodb-session-store.js';
import { exportFolder, importFolder } from './multi-file-folder.js';

const USAGE = `usage: npm run session -- <command> [--table NAME | --simulator | --real]
  list                          the devices with a session: linked number, state, last use
  import --device ID <folder>   import a Baileys useMultiFileAuthState folder; refused when that companion is
                                already stored under another device id, unless --force
  export --device ID <folder>   write a device into a new or empty folder as useMultiFileAuthState files
                                (folder 700, files 600: they hold the device's private keys)
  delete --device ID            delete everything stored for a device
Store: by default the local one, as login uses it: the DynamoDB Local of a running \`npm start\` on the data dir
(DATA_DIR or .data), else one started for the command; table pin-sessions, or pin-sessions-simulator with
--simulator (default: the running npm start's mode). --table NAME (or SESSION_TABLE): that table, with your AWS
credentials and region (AWS_PROFILE, AWS_REGION, …), or on AWS_ENDPOINT_URL_DYNAMODB (created there if missing).`;

type Env = Record<string, string | undefined>;

/** Runs one session tool command; returns the exit code, throws a sentence saying what to do on failure. */
export async function runSessionCli(argv: string[], env: Env = process.env, out: (line: string) => void = console.log, note: (line: string) => void = console.error): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      table: { type: 'string' }, device: { type: 'string' }, simulator: { type: 'boolean' }, real: { type: 'boolean' },
      force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, folder] = positionals;
  if (values.help || !command || !['list', 'import', 'export', 'delete'].includes(command)) {
    out(command && !values.help ? `unknown command ${command}\n${USAGE}` : USAGE);
    return values.help ? 0 : 2;
  }
  const device = values.device;
  if (command !== 'list' && !device) throw new Error(`${command} needs --device ID (npm run session -- list shows the devices)`);
  if ((command === 'import' || command === 'export') && !folder) throw new Error(`${command} needs a folder: npm run session -- ${command} --device ${device} <folder>`);
  const table = values.table ?? env.SESSION_TABLE;
  if (values.simulator && values.real) throw new Error('--simulator and --real pick one local table: pass one of them');
  if (table && (values.simulator || values.real)) throw new Error(`--${values.simulator ? 'simulator' : 'real'} picks a local table: drop it to use ${table}, or drop --table and SESSION_TABLE`);
  if (!table && env.AWS_ENDPOINT_URL_DYNAMODB) {
    throw new Error('AWS_ENDPOINT_URL_DYNAMODB is set but no table: pass --table NAME or set SESSION_TABLE, or unset AWS_ENDPOINT_URL_DYNAMODB to use the local store');
  }

  const store = await openSessionTable({ table, mode: values.simulator ? 'simulator' : values.real ? 'real' : undefined, say: note }, env);
  const other = store.mode === 'real' ? 'simulator' : 'real';
  note(`store: ${store.where}${store.mode ? ` (${store.mode} sessions; --${other} for the ${other} ones)` : ''}`);
  const sessions = new DynamoDbSessionStore(store.client, store.table);
  try {
    switch (command) {
      case 'list':
        out(['device', 'linked', 'state', 'last used'].join('\t'));
        for (const { deviceId, linkedJid, state, lastUsedAt } of await sessions.list()) {
          out([deviceId, linkedJid ?? '-', state, lastUsedAt ? new Date(lastUsedAt).toISOString() : '-'].join('\t'));
        }
        return 0;
      case 'import': {
        const { keys, skipped } = await importFolder(sessions, device!, folder!, { force: values.force });
        out(`imported creds and ${keys} keys into device ${device}${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`);
        return 0;
      }
      case 'export': {
        const { keys } = await exportFolder(sessions, device!, folder!);
        out(`exported creds and ${keys} keys of device ${device} to ${folder}`);
        return 0;
      }
      default: {
        const { state, creds } = await sessions.load(device!);
        if (state === 'absent') throw new Error(`device ${device} has no session in table ${store.table}: nothing deleted (npm run session -- list shows the devices there)`);
        await sessions.deleteDevice(device!);
        out(`deleted device ${device} (${state}${creds?.me?.id ? `, ${creds.me.id}` : ''})`);
        return 0;
      }
    }
  } catch (error) {
    throw table ? explainTableError(error, table) : error;
  } finally {
    await store.close();
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
