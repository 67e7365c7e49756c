import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { expectedLogs } from './expected-logs.js';

/**
 * setupFilesAfterEnv: every byte a test file writes to stdout/stderr, and every console.* call, is
 * appended to a per-worker file in the run's capture dir; test/support/log-capture-reporter.ts checks
 * them once the run completes. Inside expectLogs (test/support/expected-logs.ts) the output is handed
 * to the test instead of being printed, and recorded as expected. Installed once per worker process
 * (the streams outlive test files).
 */
const dir = process.env.LOG_CAPTURE_DIR;
const CAPTURED = Symbol.for('log-capture.installed');
const file = dir && join(dir, `worker-${process.pid}.log`);

/** Records `text` and says whether it is expected output (not to be printed). */
const record = (source: string, text: string): boolean => {
  const taken = expectedLogs();
  taken?.push(text);
  const tag = taken ? `expected:${source}` : source;
  if (file) appendFileSync(file, `${tag}\t${text.replace(/\n(?!$)/g, `\n${tag}\t`)}${text.endsWith('\n') ? '' : '\n'}`, { mode: 0o600 });
  return taken !== undefined;
};

for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
  const target = stream as typeof stream & { [CAPTURED]?: boolean };
  if (target[CAPTURED]) continue;
  target[CAPTURED] = true;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (!record(name, typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))) return write(chunk, ...rest);
    const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof stream.write;
}
// jest's console is per test file: wrap it every time.
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir'] as const) {
  const original = console[method].bind(console) as (...args: unknown[]) => void;
  console[method] = (...args: unknown[]) => {
    if (!record(`console.${method}`, format(...args))) original(...args);
  };
}
