/** A structured (JSON) log line, as Powertools' logger writes it. */
export type LogLine = Record<string, unknown> & { level?: string; message?: string };

// Kept on the process's stdout stream: the one object every test file's context and the capture setup share.
const EXPECTED_LOGS = Symbol.for('log-capture.expected');
const holder = process.stdout as unknown as { [EXPECTED_LOGS]?: string[] };

/** The texts taken inside expectLogs, if one runs (test/support/log-capture-setup.ts hands them over). */
export const expectedLogs = (): string[] | undefined => holder[EXPECTED_LOGS];

/**
 * Runs `work` with what the process prints taken as expected output: handed to the test (JSON lines parsed), not
 * printed, still recorded for the secret scan, and left out of the run's noise check (ERROR lines, stack traces).
 */
export async function expectLogs<T>(work: () => Promise<T>): Promise<{ result: T; logs: LogLine[] }> {
  if (holder[EXPECTED_LOGS]) throw new Error('expectLogs calls do not nest');
  const texts: string[] = [];
  holder[EXPECTED_LOGS] = texts;
  try {
    const result = await work();
    const lines = texts.join('').split('\n').filter((line) => line.startsWith('{'));
    return { result, logs: lines.map((line) => JSON.parse(line) as LogLine) };
  } finally {
    delete holder[EXPECTED_LOGS];
  }
}
