import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { Context } from 'aws-lambda';
import { AfterResponse } from '../../../lib/lambda-runtime/after-response.js';
import { startLocalExtensionsApi, type LocalExtensionsApi } from '../../../lib/local/local-extensions-api.js';
import { lambdaContext } from '../../support/events.js';
import { expectLogs } from '../../support/expected-logs.js';

let api: LocalExtensionsApi | undefined;

afterEach(async () => {
  await api?.stop();
  api = undefined;
});

/** Runs one invocation through `after`'s middleware as middy would, with `work` kept while the handler runs; resolves whether the invocation had ended for Lambda's stand-in `waitMs` after the handler returned. */
async function invocation(after: AfterResponse, requestId: string, options: { keep?: Promise<unknown>; waitMs?: number } = {}) {
  const context: Context = lambdaContext(10_000, requestId);
  let over = false;
  const ended = api!.invoke(requestId, Date.now() + 10_000).then(() => (over = true));
  const middleware = after.middleware();
  await middleware.before!({ event: {}, context, response: undefined, error: undefined, internal: {} });
  const kept = options.keep ? after.keep(options.keep) : undefined;
  await middleware.after!({ event: {}, context, response: {}, error: undefined, internal: {} });
  await sleep(options.waitMs ?? 100);
  return { kept, overSoonAfter: over, ended };
}

describe('work finished after the response (Lambda Extensions API)', () => {
  it('without a runtime API nothing is kept: the caller waits for its work', async () => {
    // Prepare
    const after = new AfterResponse(undefined);
    // Act
    const registered = await after.register();
    // Assess
    expect(registered).toBe(false);
    expect(after.keep(Promise.resolve())).toBe(false);
  });

  it('registers as an internal extension for INVOKE; an invocation ends only once its handler returned and the kept work settled', async () => {
    // Prepare
    api = await startLocalExtensionsApi();
    let published = 0;
    const after = new AfterResponse(api.address, () => published++);
    await after.register();
    let finish!: () => void;
    const work = new Promise<void>((resolve) => (finish = resolve));
    // Act
    const { kept, overSoonAfter, ended } = await invocation(after, 'request-1', { keep: work });
    const publishedBefore = published;
    finish();
    await ended;
    // Assess
    expect(api.registrations()).toEqual([{ name: 'whatsapp-pin-after-response', events: ['INVOKE'] }]);
    expect(kept).toBe(true);
    expect(overSoonAfter).toBe(false);
    expect(publishedBefore).toBe(0);
    expect(published).toBe(1);
  });

  it('an invocation whose handler has not returned is not over, even with nothing kept; one after another, each ends', async () => {
    // Prepare
    api = await startLocalExtensionsApi();
    const after = new AfterResponse(api.address);
    await after.register();
    const context = lambdaContext(10_000, 'request-2');
    const middleware = after.middleware();
    let over = false;
    // Act
    const ended = api.invoke('request-2', Date.now() + 10_000).then(() => (over = true));
    await middleware.before!({ event: {}, context, response: undefined, error: undefined, internal: {} });
    await sleep(100);
    const overWhileRunning = over;
    await middleware.onError!({ event: {}, context, response: undefined, error: new Error('failed'), internal: {} });
    await ended;
    const next = await invocation(after, 'request-3', { keep: Promise.reject(new Error('the kept work failed')) });
    await next.ended;
    // Assess
    expect(overWhileRunning).toBe(false);
    expect(over).toBe(true);
    expect(next.kept).toBe(true);
  });

  it('a refused registration keeps nothing', async () => {
    // Prepare: a runtime API that refuses every call
    const refusing = createServer((_, response) => response.writeHead(403).end('{"errorType":"Extension.Forbidden"}'));
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const { port } = refusing.address() as { port: number };
    const after = new AfterResponse(`127.0.0.1:${port}`);
    // Act
    const { result: registered, logs } = await expectLogs(() => after.register());
    refusing.close();
    // Assess
    expect(logs).toContainEqual(expect.objectContaining({ level: 'WARN', message: 'answering after the commit: the after-response extension did not register' }));
    expect(registered).toBe(false);
    expect(after.keep(Promise.resolve())).toBe(false);
  });
});
