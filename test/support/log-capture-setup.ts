import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';

/**
 * setupFilesAfterEnv: every byte a test file writes to stdout/stderr, and every console.* call, is
 * appended to a per-worker file in the run's capture dir; test/support/log-capture-reporter.ts checks
 * them once the run completes. Installed once per worker process (the streams outlive test files).
 */
const dir = process.env.LOG_CAPTURE_DIR;
const CAPTURED = Symbol.for('log-capture.installed');

if (dir) {
  const file = join(dir, `worker-${process.pid}.log`);
  const record = (source: string, text: string) => appendFileSync(file, `${source}\t${text.replace(/\n(?!$)/g, `\n${source}\t`)}${text.endsWith('\n') ? '' : '\n'}`, { mode: 0o600 });
  for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
    const target = stream as typeof stream & { [CAPTURED]?: boolean };
    if (target[CAPTURED]) continue;
    target[CAPTURED] = true;
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      record(name, typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  // jest's console is per test file: wrap it every time.
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir'] as const) {
    const original = console[method].bind(console) as (...args: unknown[]) => void;
    console[method] = (...args: unknown[]) => {
      record(`console.${method}`, format(...args));
      original(...args);
    };
  }
}
