import { afterEach, describe, expect, it } from '@jest/globals';
import middy from '@middy/core';
import {
  AppStateKeyMissingError,
  ChatNotFoundError,
  DeviceBusyError,
  NotLoggedInError,
  UnauthorizedError,
  ValidationError,
  WhatsAppRejectedError,
  WhatsAppTimeoutError,
} from '../../../lib/errors.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics, respond } from '../../../lib/http/middlewares.js';
import { metrics } from '../../../lib/observability.js';
import { expectLogs } from '../../support/expected-logs.js';
import { lambdaContext } from '../../support/events.js';

/** The metric names recorded since the last clear, as the EMF line would carry them. */
const recorded = () => metrics.serializeMetrics()._aws.CloudWatchMetrics[0]!.Metrics.map((metric) => metric.Name);
afterEach(() => metrics.clearMetrics());

describe('respond().onError', () => {
  it.each([
    ['an invalid request', 'INFO', 'RequestRejected', new ValidationError('pinned: cannot be blank')],
    ['bad credentials', 'INFO', 'RequestRejected', new UnauthorizedError()],
    ['a chat WhatsApp does not know', 'INFO', 'RequestRejected', new ChatNotFoundError('123@lid')],
    ['a busy device', 'INFO', 'RequestRejected', new DeviceBusyError('default', 3)],
    ['WhatsApp not answering in time (504)', 'WARN', 'RequestFailed', new WhatsAppTimeoutError('no answer', { cause: new Error('timed out') })],
    ['WhatsApp refusing the change (502)', 'WARN', 'RequestFailed', new WhatsAppRejectedError('WhatsApp answered 409 twice')],
    ['a device that was never linked', 'WARN', 'RequestFailed', new NotLoggedInError('shop', 'absent')],
    ['a device whose linking never finished', 'WARN', 'RequestFailed', new NotLoggedInError('shop', 'linking')],
    ['a device WhatsApp logged out', 'ERROR', 'RequestFailed', new NotLoggedInError('shop', 'logged-out')],
    ['a device without its app-state key', 'ERROR', 'RequestFailed', new AppStateKeyMissingError('shop')],
    ['anything unexpected', 'ERROR', 'RequestFailed', new TypeError('socket exploded')],
  ])('logs %s once at %s, counted as %s, with a stack only when unexpected', async (_case, level, metric, error) => {
    // Prepare
    const handler = middy().use(respond()).handler(async () => {
      throw error;
    });
    // Act
    const { logs } = await expectLogs(() => handler({ chat_jid: '6289685028129@s.whatsapp.net', pinned: true }, lambdaContext()));
    // Assess
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level, message: level === 'INFO' ? 'request rejected' : 'request failed' });
    const unexpected = error instanceof TypeError;
    expect(JSON.stringify(logs[0]).includes('"stack"')).toBe(unexpected);
    if (level !== 'INFO' && !unexpected) expect(logs[0]!.error).toBe(`${(error as Error).name}: ${(error as Error).message}`);
    expect(recorded()).toEqual([metric]);
  });
});

describe('logMetrics', () => {
  const handlerWith = (later: boolean) =>
    middy()
      .use(logMetrics(() => later))
      .handler(async () => {
        metrics.addMetric('PinAccepted', MetricUnit.Count, 1);
        return 'done';
      });

  it('publishes what the invocation stored once its handler is done', async () => {
    // Act
    await handlerWith(false)({}, lambdaContext());
    // Assess: published (and so cleared)
    expect(metrics.hasStoredMetrics()).toBe(false);
  });

  it('leaves them stored when the invocation finishes after its response, whose end publishes them', async () => {
    // Act
    await handlerWith(true)({}, lambdaContext());
    // Assess
    expect(recorded()).toEqual(['PinAccepted']);
  });
});
