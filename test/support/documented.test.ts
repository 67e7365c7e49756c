import { describe, expect, it } from '@jest/globals';
import { documented, expectDocumented, undocumented, undocumentedResult, type HttpAnswer } from './documented.js';
import { loadEvent } from './events.js';

const JSON_TYPE = { 'Content-Type': 'application/json' };
const envelope = (code: string, message: string, results: object = {}) => JSON.stringify({ code, message, results });
const PINNED = JSON.stringify({
  code: 'SUCCESS',
  message: 'Chat pinned successfully',
  results: { status: 'success', message: 'Chat pinned successfully', chat_jid: '6289685028129@s.whatsapp.net', pinned: true },
});

describe('the check of answers against openapi.yaml', () => {
  it.each<[string, HttpAnswer]>([
    ['200 pinned, with transport headers', { statusCode: 200, headers: { ...JSON_TYPE, date: 'Mon, 01 Dec 2026 12:00:00 GMT', 'content-length': '160' }, body: PINNED }],
    ['401 with its challenge', { statusCode: 401, headers: { ...JSON_TYPE, 'WWW-Authenticate': 'Basic realm="whatsapp"' }, body: envelope('401', 'Unauthorized access') }],
    ['409 busy with Retry-After', { statusCode: 409, headers: { ...JSON_TYPE, 'Retry-After': '3' }, body: envelope('409', 'device is busy, retry later') }],
    ['409 pin cap without Retry-After', { statusCode: 409, headers: JSON_TYPE, body: envelope('409', 'You can only pin up to 3 chats') }],
    ['504', { statusCode: 504, headers: { 'content-type': 'application/json; charset=utf-8' }, body: envelope('GATEWAY_TIMEOUT', 'WhatsApp did not answer in time') }],
  ])('accepts a documented answer: %s', (_case, answer) => {
    expect(undocumented(answer)).toEqual([]);
  });

  it.each<[string, HttpAnswer, RegExp]>([
    ['a message broken on purpose', { statusCode: 200, headers: JSON_TYPE, body: PINNED.replaceAll('Chat pinned successfully', 'Chat pinned') }, /^body\/message must be equal to one of the allowed values/],
    ['a status the document does not list', { statusCode: 418, headers: JSON_TYPE, body: envelope('418', "I'm a teapot") }, /^status 418 is not documented$/],
    ['GOWA\'s numeric code', { statusCode: 400, headers: JSON_TYPE, body: JSON.stringify({ code: 400, message: 'pinned: cannot be blank', results: {} }) }, /^body\/code must be string/],
    ['a 401 without its challenge', { statusCode: 401, headers: JSON_TYPE, body: envelope('401', 'Unauthorized access') }, /^header www-authenticate is required for 401$/],
    ['a Retry-After of 0', { statusCode: 409, headers: { ...JSON_TYPE, 'Retry-After': '0' }, body: envelope('409', 'device is busy, retry later') }, /^\/headers\/retry-after must be >= 1/],
    ['a header the document does not list', { statusCode: 200, headers: { ...JSON_TYPE, 'X-Debug': 'lease=abc' }, body: PINNED }, /^header x-debug is not documented for 200$/],
    ['a plain-text body', { statusCode: 401, headers: { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Basic realm="whatsapp"' }, body: 'Unauthorized' }, /^content type text\/plain is not documented for 401$/],
    ['internals in a 500', { statusCode: 500, headers: JSON_TYPE, body: envelope('INTERNAL_SERVER_ERROR', 'internal server error', { stack: 'Error: at …' }) }, /^body\/results must NOT have more than 0 properties/],
  ])('rejects %s', (_case, answer, problem) => {
    // Act
    const problems = undocumented(answer);
    // Assess
    expect(problems).toContainEqual(expect.stringMatching(problem));
    expect(() => expectDocumented(answer)).toThrow(/^openapi\.yaml does not describe this answer:/);
  });

  it('checks direct and SQS results against their schemas', () => {
    expect(undocumentedResult(loadEvent('direct', 'pin'), JSON.parse(PINNED))).toEqual([]);
    expect(undocumentedResult(loadEvent('direct', 'pin'), { code: 409, message: 'device is busy, retry later', results: {} })).not.toEqual([]);
    expect(undocumentedResult(loadEvent('sqs', 'pin'), { batchItemFailures: [{ itemIdentifier: 'm-1' }] })).toEqual([]);
    expect(undocumentedResult(loadEvent('sqs', 'pin'), { batchItemFailures: [{ messageId: 'm-1' }] })).not.toEqual([]);
  });

  it('documented(handler) fails the call that got an undocumented answer, and passes documented ones through', async () => {
    // Prepare
    const answers: unknown[] = [{ statusCode: 200, headers: JSON_TYPE, body: PINNED }, { statusCode: 200, headers: JSON_TYPE, body: '{"code":"SUCCESS"}' }];
    const handler = documented(async (_event: unknown, _context: unknown) => answers.shift());
    // Act / Assess
    await expect(handler(loadEvent('api-gateway-v2', 'pin'), {})).resolves.toMatchObject({ statusCode: 200 });
    await expect(handler(loadEvent('api-gateway-v2', 'pin'), {})).rejects.toThrow(/body must have required property 'message'/);
  });
});
