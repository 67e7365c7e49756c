/**
 * Work an invocation finishes after its response. Lambda returns the response as soon as the handler resolves, and
 * freezes the execution environment only once the runtime and every registered extension have asked for the next
 * event. This process registers itself as an internal extension (Extensions API) at the cold start and asks for the
 * next event only when the invocation's handler has returned and the work it handed over (`keep`) has settled: the
 * caller is answered first, and the environment stays up, billed, until that work is done. The next invocation
 * cannot start before.
 *
 * Without a runtime API (npm start, tests, the CLI) or when the registration fails, nothing is kept: `keep` answers
 * false and the caller waits for the work itself.
 */
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { failureFields } from '../http/middlewares.js';
import { logger } from '../observability.js';

const EXTENSION_NAME = 'whatsapp-pin-after-response';

interface ExtensionEvent {
  eventType: 'INVOKE' | 'SHUTDOWN';
  requestId?: string;
  deadlineMs?: number;
}

/**
 * One call to the runtime API over loopback HTTP, with no timeout: `event/next` blocks until the next invocation.
 * (node:http is loaded on first use: outside Lambda, never; its import is not on the cold start's path.)
 */
async function call(runtimeApi: string, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(`http://${runtimeApi}/2020-01-01/extension/${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export class AfterResponse {
  private readonly pending = new Set<Promise<unknown>>();
  /** Invocations whose handler has started, resolved once it returned. */
  private readonly handlers = new Map<string, { returned: Promise<void>; resolve: () => void }>();
  private registered = false;

  /** `onSettled` runs each time an invocation's work has settled, before the environment may freeze (e.g. to publish metrics). */
  constructor(
    private readonly runtimeApi: string | undefined,
    private readonly onSettled: () => void = () => undefined,
  ) {}

  /** Registers the extension (during the cold start: Lambda accepts registrations only then). Resolves whether work can be kept. */
  async register(): Promise<boolean> {
    if (!this.runtimeApi || this.registered) return this.registered;
    try {
      const answer = await call(this.runtimeApi, 'POST', 'register', { 'Lambda-Extension-Name': EXTENSION_NAME, 'Content-Type': 'application/json' }, JSON.stringify({ events: ['INVOKE'] }));
      const id = answer.headers['lambda-extension-identifier'];
      if (answer.status !== 200 || typeof id !== 'string') throw new Error(`the runtime API answered ${answer.status} to the extension's registration`);
      this.registered = true;
      void this.serve(id);
    } catch (error) {
      logger.warn('answering after the commit: the after-response extension did not register', failureFields(error));
    }
    return this.registered;
  }

  /** Whether invocations finish after their response (the extension is registered and serving). */
  get keeping(): boolean {
    return this.registered;
  }

  /** Hands over work to finish after the response; false when it cannot be (no extension): then the caller awaits it. */
  keep(work: Promise<unknown>): boolean {
    if (!this.registered) return false;
    const kept = work.catch(() => undefined).finally(() => this.pending.delete(kept));
    this.pending.add(kept);
    return true;
  }

  /** Marks when each invocation's handler starts and returns (first middleware: its after and onError run last). */
  middleware(): MiddlewareObj<unknown, unknown, Error, Context> {
    const returned = ({ context }: { context: Context }) => void (this.registered && this.handler(context.awsRequestId).resolve());
    return { before: ({ context }) => void (this.registered && this.handler(context.awsRequestId)), after: returned, onError: returned };
  }

  private handler(requestId: string) {
    let entry = this.handlers.get(requestId);
    if (!entry) {
      let resolve!: () => void;
      const returned = new Promise<void>((done) => (resolve = done));
      entry = { returned, resolve };
      this.handlers.set(requestId, entry);
    }
    return entry;
  }

  /** The extension's loop: each invocation is done for it once its handler returned and the work kept meanwhile settled. */
  private async serve(id: string): Promise<void> {
    for (;;) {
      let event: ExtensionEvent;
      try {
        const answer = await call(this.runtimeApi!, 'GET', 'event/next', { 'Lambda-Extension-Identifier': id });
        if (answer.status !== 200) throw new Error(`the runtime API answered ${answer.status} to event/next`);
        event = JSON.parse(answer.body) as ExtensionEvent;
      } catch (error) {
        // Nothing is kept from now on: callers wait for their whole turn again.
        this.registered = false;
        logger.warn('answering after the commit: the after-response extension stopped', failureFields(error));
        return;
      }
      if (event.eventType !== 'INVOKE' || !event.requestId) return; // SHUTDOWN: the environment ends
      const entry = this.handler(event.requestId);
      const settled = (async () => {
        await entry.returned;
        while (this.pending.size) await Promise.all(this.pending);
      })();
      // At the invocation's deadline Lambda ends it anyway.
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => event.deadlineMs !== undefined && (timer = setTimeout(resolve, Math.max(0, event.deadlineMs - Date.now()))));
      await Promise.race([settled, deadline]);
      clearTimeout(timer);
      this.handlers.delete(event.requestId);
      try {
        this.onSettled();
      } catch (error) {
        logger.warn('answering after the commit: publishing after the response failed', failureFields(error));
      }
    }
  }
}
