import { describe, expect, it } from '@jest/globals';
import { exitCodeOf, withBasicAuth } from '../../../lib/local/invoke.js';

describe('withBasicAuth', () => {
  it('replaces the Authorization header whatever its case, leaving the event file untouched', () => {
    // Prepare
    const event = { headers: { Authorization: 'Basic Z293YTpwaW4tdGVzdC1wYXNzd29yZA==', 'content-type': 'application/json' } };
    // Act
    const rewritten = withBasicAuth(event, 'local:pw');
    // Assess
    expect(rewritten.headers).toEqual({ authorization: `Basic ${Buffer.from('local:pw').toString('base64')}`, 'content-type': 'application/json' });
    expect(event.headers.Authorization).toBe('Basic Z293YTpwaW4tdGVzdC1wYXNzd29yZA==');
  });
});

describe('exitCodeOf', () => {
  it.each([
    ['an HTTP 200', { statusCode: 200, body: '{}' }, 0],
    ['an HTTP 401', { statusCode: 401, body: '{}' }, 22],
    ['an HTTP 504', { statusCode: 504, body: '{}' }, 22],
    ['a direct call accepted', { code: 'SUCCESS', message: 'Chat pinned successfully', results: {} }, 0],
    ['a direct call rejected', { code: '400', message: 'chat_jid: invalid JID', results: {} }, 22],
    ['an SQS batch without failures', { batchItemFailures: [] }, 0],
    ['an SQS batch with a failed record', { batchItemFailures: [{ itemIdentifier: 'm-2' }] }, 22],
  ])('%s exits %d, as curl -f would', (_, result, code) => {
    // Act / Assess
    expect(exitCodeOf(result)).toBe(code);
  });
});
