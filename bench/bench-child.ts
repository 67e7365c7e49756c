/** The IPC protocol between the bench and its child processes (a pin runner or the naive script). */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** The Lambda time a bench invocation has: the runner's handler context and the runtime API's deadline for it. */
export const INVOCATION_MS = 29_000;

export type ToChild = { type: 'pin'; input: unknown } | { type: 'exit' };
export type FromChild =
  | { type: 'ready'; /** process start → module evaluated */ initMs: number }
  | { type: 'done'; ok: boolean; status?: number; error?: string; ms: number; maxRssKb: number; /** CPU time of the pin; with `sinceStart`, of the whole process so far */ cpuMs: number; cpuMsSinceStart: number };

/**
 * Peak resident memory of this process, KB. Linux's getrusage (process.resourceUsage().maxRSS) carries the parent's
 * resident size over fork and exec, so a child of a large bench process would report the bench's; VmHWM is this image's own.
 */
function peakRssKb(): number {
  try {
    const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Serves pins over IPC: says ready, runs each `pin` message through `run`, exits on `exit`. */
export function serveOverIpc(run: (input: unknown) => Promise<{ ok: boolean; status?: number; error?: string }>): void {
  const send = (message: FromChild) => process.send!(message);
  process.on('message', async (message: ToChild) => {
    if (message.type === 'exit') process.exit(0);
    const started = performance.now();
    const cpuBefore = cpuMs();
    let outcome: { ok: boolean; status?: number; error?: string };
    try {
      outcome = await run(message.input);
    } catch (error) {
      outcome = { ok: false, error: (error as Error).message };
    }
    const cpuAfter = cpuMs();
    send({ type: 'done', ...outcome, ms: performance.now() - started, maxRssKb: peakRssKb(), cpuMs: cpuAfter - cpuBefore, cpuMsSinceStart: cpuAfter });
  });
  send({ type: 'ready', initMs: performance.now() });
}
