/** What the local tools keep under the data directory (.data/ by default, DATA_DIR to move it). */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

type Env = Record<string, string | undefined>;

/** Tables of the local DynamoDB: real sessions and simulator sessions never mix. */
export const LOCAL_TABLES = { real: 'pin-sessions', simulator: 'pin-sessions-simulator' } as const;
export type WhatsAppMode = keyof typeof LOCAL_TABLES;

/** A path as short as it reads well: relative inside the working directory, absolute outside. */
export function shown(path: string): string {
  const short = relative('.', path);
  return short && !short.startsWith('..') && !isAbsolute(short) ? short : path;
}

export function dataDir(env: Env = process.env): string {
  const dir = resolve(env.DATA_DIR?.trim() || '.data');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface LocalCredentials {
  /** `user:pass,user2:pass2`, as the API credentials secret holds it. */
  basicAuth: string;
  /** The first pair, for the printed curl commands. */
  user: string;
  password: string;
  source: 'BASIC_AUTH' | 'stored' | 'generated';
  file?: string;
}

/** BASIC_AUTH if set; otherwise a password generated once (144 random bits) and kept in <data>/basic-auth (mode 600). */
export function localCredentials(dir: string, env: Env = process.env): LocalCredentials {
  const fromEnv = env.BASIC_AUTH?.trim();
  const file = join(dir, 'basic-auth');
  let source: LocalCredentials['source'] = fromEnv ? 'BASIC_AUTH' : 'stored';
  let basicAuth = fromEnv ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() : '');
  if (!basicAuth) {
    basicAuth = `local:${randomBytes(18).toString('base64url')}`;
    writeFileSync(file, `${basicAuth}\n`, { mode: 0o600 });
    source = 'generated';
  }
  const first = basicAuth.split(',')[0]!;
  const colon = first.indexOf(':');
  if (colon < 1) throw new Error(`${fromEnv ? 'BASIC_AUTH' : file} must look like user:pass[,user2:pass2]`);
  return { basicAuth, user: first.slice(0, colon), password: first.slice(colon + 1), source, ...(fromEnv ? {} : { file }) };
}

/** What a running `npm start` tells the other local tools (no secrets): <data>/stack.json. */
export interface StackFile {
  pid: number;
  mode: WhatsAppMode;
  url: string;
  /** The environment the handler runs with (endpoints, table, secret id, WhatsApp URL). */
  env: Record<string, string>;
  /** base64; the simulator's root key the clients must trust. */
  rootPublicKey?: string;
  simulatorControl?: string;
}

const stackPath = (dir: string) => join(dir, 'stack.json');

export function writeStackFile(dir: string, stack: StackFile): void {
  writeFileSync(stackPath(dir), JSON.stringify(stack, null, 2));
}

export function removeStackFile(dir: string): void {
  rmSync(stackPath(dir), { force: true });
}

/** The stack of a live `npm start` on this data directory, if any. */
export function runningStack(dir: string): StackFile | undefined {
  if (!existsSync(stackPath(dir))) return undefined;
  const stack = JSON.parse(readFileSync(stackPath(dir), 'utf8')) as StackFile;
  try {
    process.kill(stack.pid, 0);
    return stack;
  } catch {
    return undefined;
  }
}
