/** Test helper: `npm start` (or another npm script) as a child process of the repository, on a temp data dir. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The child's environment: the temp data dir, nothing inherited from the jest run that would point elsewhere. */
export function childEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, ...extra };
  for (const name of ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_SECRETS_MANAGER', 'NODE_OPTIONS', 'BASIC_AUTH', 'PORT', 'WHATSAPP']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

export interface NpmRun {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first printed line matching `pattern`; rejects if the child exits first or after `ms`. */
  line(pattern: RegExp, ms?: number): Promise<string>;
  exited: Promise<number | null>;
}

export function npmRun(script: string[], env: NodeJS.ProcessEnv): NpmRun {
  const child = spawn('npm', ['run', '--silent', ...script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    line(pattern, ms = 150_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = text.split('\n').find((line) => pattern.test(line));
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => (done(), reject(new Error(`no line ${pattern} within ${ms} ms; output:\n${text}`))), ms);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then((code) => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`exited (${code}) before printing ${pattern}; output:\n${text}`));
        });
        check();
      });
    },
    exited,
  };
}

export function tempDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pin-local-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
