import { beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import {
  AppStateKeyMissingError,
  ChatNotFoundError,
  DeviceBusyError,
  NotLoggedInError,
  PinLimitError,
  WhatsAppRejectedError,
  WhatsAppTimeoutError,
} from '../../lib/errors.js';
import type { PinDecision } from '../../lib/pin/pin-policy.js';
import type { PinChatCommand, PinChatContext, WhatsAppPort } from '../../lib/pin/whatsapp-port.js';
import { documented } from '../support/documented.js';
import { lambdaContext, loadEvent, SAMPLE_BASIC_AUTH, type EventsBySource } from '../support/events.js';
import { expectLogs } from '../support/expected-logs.js';

// The only test double of this suite stands at the WhatsApp port; Secrets Manager and SQS are mocked at the SDK edge.
const calls: Array<{ command: PinChatCommand; context: PinChatContext }> = [];
let behaviour: (command: PinChatCommand) => Promise<PinDecision> = async () => 'change';
const port: WhatsAppPort = {
  setChatPinned: async (command, context) => {
    calls.push({ command, context });
    return behaviour(command);
  },
};
jest.unstable_mockModule('../../lib/whatsapp/create-whatsapp-port.js', () => ({ createWhatsAppPort: () => port }));

const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);
const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pin-api-credentials';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/pin-dead-letters.fifo';
let handler: (event: unknown, context: unknown) => Promise<unknown>;
let metrics: Metrics;

beforeAll(async () => {
  process.env.SESSION_TABLE = 'sessions';
  process.env.API_CREDENTIALS_SECRET_ID = SECRET_ID;
  process.env.DEFAULT_DEVICE_ID = 'default';
  process.env.DEAD_LETTER_QUEUE_URL = DLQ_URL;
  process.env.STAGE = 'staging';
  secrets.on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({ SecretString: JSON.stringify({ basic_auth: `admin:x:y:z,${SAMPLE_BASIC_AUTH}` }) });
  handler = documented(((await import('../../functions/pin-chat.js')) as unknown as { handler: typeof handler }).handler);
  ({ metrics } = await import('../../lib/observability.js'));
});

beforeEach(() => {
  calls.length = 0;
  behaviour = async () => 'change';
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'dead-letter-1' });
});

/** The JSON lines the handler logs while `act` runs (taken as expected output: asserted here, not printed). */
async function loggedBy(act: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  return (await expectLogs(act)).logs;
}

type HttpSource = 'api-gateway-v1' | 'api-gateway-v2';
const APP_STATE_KEY_MISSING =
  'this device lacks an app-state key of the account: open WhatsApp on the phone (it shares its keys with linked devices), or link the device again (npm run login -- --force)';
const httpSources: HttpSource[] = ['api-gateway-v1', 'api-gateway-v2'];

async function call(source: HttpSource, name: string, edit?: (event: EventsBySource[HttpSource]) => void) {
  const event = loadEvent(source, name);
  edit?.(event);
  const response = (await handler(event, lambdaContext())) as APIGatewayProxyResult;
  return { response, body: JSON.parse(response.body) as unknown };
}

describe.each(httpSources)('POST /chat/{chat_jid}/pin through %s', (source) => {
  it('pins: 200 with the seed body, and the port got the normalised command', async () => {
    // Act
    const { response, body } = await call(source, 'pin');
    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({ 'Content-Type': 'application/json' });
    expect(body).toEqual({
      code: 'SUCCESS',
      message: 'Chat pinned successfully',
      results: { status: 'success', message: 'Chat pinned successfully', chat_jid: '6289685028129@s.whatsapp.net', pinned: true },
    });
    expect(calls.map((c) => c.command)).toEqual([{ deviceId: 'default', chatJid: '6289685028129@s.whatsapp.net', pinned: true }]);
    expect(calls[0].context.deadline).toBeGreaterThan(Date.now());
  });

  it('unpins: 200 with "Chat unpinned successfully" and pinned false', async () => {
    const { response, body } = await call(source, 'unpin');
    expect(response.statusCode).toBe(200);
    expect(body).toEqual({
      code: 'SUCCESS',
      message: 'Chat unpinned successfully',
      results: { status: 'success', message: 'Chat unpinned successfully', chat_jid: '6289685028129@s.whatsapp.net', pinned: false },
    });
    expect(calls[0].command.pinned).toBe(false);
  });

  it.each([
    ['pin-group', '120363025246125486@g.us'],
    ['pin-percent-encoded-group', '120363025246125486@g.us'],
    ['pin-legacy-group', '6281234567890-1596452341@g.us'],
    ['pin-lid', '123456789012345@lid'],
    ['pin-phone-number', '6289685028129@s.whatsapp.net'],
  ])('accepts %s and echoes the normalised JID %s', async (name, jid) => {
    const { response, body } = await call(source, name);
    expect(response.statusCode).toBe(200);
    expect((body as { results: { chat_jid: string } }).results.chat_jid).toBe(jid);
    expect(calls[0].command.chatJid).toBe(jid);
  });

  it.each([
    ['pin-with-device-header', 'sales-phone'],
    ['pin-with-device-query', 'sales-phone'],
  ])('selects the device from %s', async (name, deviceId) => {
    await call(source, name);
    expect(calls[0].command.deviceId).toBe(deviceId);
  });

  it('prefers X-Device-Id (URL-decoded) over the device_id query parameter', async () => {
    const { response } = await call(source, 'pin-with-device-query', (event) => {
      event.headers['x-device-id'] = 'phone%2B1';
    });
    expect(response.statusCode).toBe(200);
    expect(calls[0].command.deviceId).toBe('phone+1');
  });

  it.each([
    ['missing-pinned', 'pinned: cannot be blank'],
    ['null-pinned', 'pinned: cannot be blank'],
    ['string-pinned', 'pinned: must be a boolean'],
    ['number-pinned', 'pinned: must be a boolean'],
    ['invalid-json', 'body: invalid JSON'],
    ['array-body', 'body: must be a JSON object'],
    ['missing-body', source === 'api-gateway-v1' ? 'body: must be a JSON object' : 'body: required, a JSON object like {"pinned":true}'],
    ['wrong-content-type', 'body: Content-Type must be application/json'],
    ['missing-content-type', 'body: Content-Type must be application/json'],
    ['invalid-jid', 'chat_jid: invalid JID'],
    ['invalid-jid-letters', 'chat_jid: invalid JID'],
    ['invalid-device-id', 'device_id: invalid device id'],
  ])('%s → 400 "%s", nothing reaches WhatsApp', async (name, message) => {
    const { response, body } = await call(source, name);
    expect(response.statusCode).toBe(400);
    expect(response.headers).toMatchObject({ 'Content-Type': 'application/json' });
    expect(body).toEqual({ code: '400', message, results: {} });
    expect(calls).toHaveLength(0);
  });

  it('a base64-encoded body is decoded', async () => {
    const { response } = await call(source, 'base64-body');
    expect(response.statusCode).toBe(200);
  });

  it('a body over 16 KiB → 413 in the envelope', async () => {
    const { response, body } = await call(source, 'pin', (event) => {
      event.body = JSON.stringify({ pinned: true, padding: 'x'.repeat(16 * 1024) });
    });
    expect(response.statusCode).toBe(413);
    expect(body).toEqual({ code: '413', message: 'request body larger than 16384 bytes', results: {} });
    expect(calls).toHaveLength(0);
  });

  it.each(['missing-authorization', 'wrong-password', 'malformed-authorization', 'bearer-authorization'])(
    '%s → 401 with WWW-Authenticate, before anything else is looked at',
    async (name) => {
      // Prepare: the request is also invalid in every other way
      const { response, body } = await call(source, name, (event) => {
        event.body = '{"pinned":';
      });
      // Assess
      expect(response.statusCode).toBe(401);
      expect(response.headers).toMatchObject({ 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="whatsapp"' });
      expect(body).toEqual({ code: '401', message: 'Unauthorized access', results: {} });
      expect(calls).toHaveLength(0);
    },
  );

  it('a wrong user with a valid password → 401', async () => {
    const { response } = await call(source, 'pin', (event) => {
      event.headers[source === 'api-gateway-v1' ? 'Authorization' : 'authorization'] = `Basic ${Buffer.from('nobody:pin-test-password').toString('base64')}`;
    });
    expect(response.statusCode).toBe(401);
  });

  it('a password containing ":" is accepted (pairs split on the first colon)', async () => {
    const { response } = await call(source, 'pin', (event) => {
      event.headers[source === 'api-gateway-v1' ? 'Authorization' : 'authorization'] = `Basic ${Buffer.from('admin:x:y:z').toString('base64')}`;
    });
    expect(response.statusCode).toBe(200);
  });

  it.each([
    ['the chat is already in that state', 'unchanged' as const],
    ['the pin changes the chat', 'change' as const],
  ])('%s → 200 with the seed body', async (_case, decision) => {
    // Prepare
    behaviour = async () => decision;
    // Act
    const { response, body } = await call(source, 'pin');
    // Assess
    expect(response.statusCode).toBe(200);
    expect(body).toEqual({
      code: 'SUCCESS',
      message: 'Chat pinned successfully',
      results: { status: 'success', message: 'Chat pinned successfully', chat_jid: '6289685028129@s.whatsapp.net', pinned: true },
    });
  });

  it('a pin past the pin cap → 409 "You can only pin up to 3 chats", no Retry-After', async () => {
    // Prepare
    behaviour = async () => 'limit';
    // Act
    const { response, body } = await call(source, 'pin');
    // Assess
    expect(response.statusCode).toBe(409);
    expect(body).toEqual({ code: '409', message: 'You can only pin up to 3 chats', results: {} });
    expect(response.headers).not.toHaveProperty('Retry-After');
  });

  it.each([
    ['the chat does not exist', () => new ChatNotFoundError('6289685028129@s.whatsapp.net'), 404, { code: '404', message: 'Chat not found', results: {} }, {}, 'INFO'],
    ['no session', () => new NotLoggedInError('default', 'absent'), 500, { code: 'INTERNAL_SERVER_ERROR', message: 'you are not logged in', results: {} }, {}, 'WARN'],
    ['linking never finished', () => new NotLoggedInError('default', 'linking'), 500, { code: 'INTERNAL_SERVER_ERROR', message: 'you are not logged in', results: {} }, {}, 'WARN'],
    ['logged out', () => new NotLoggedInError('default', 'logged-out'), 500, { code: 'INTERNAL_SERVER_ERROR', message: 'you are not logged in', results: {} }, {}, 'ERROR'],
    ['the device is busy', () => new DeviceBusyError('default', 2.2), 409, { code: '409', message: 'device is busy, retry later', results: {} }, { 'Retry-After': '3' }, 'INFO'],
    ['WhatsApp timed out', () => new WhatsAppTimeoutError('no answer'), 504, { code: 'GATEWAY_TIMEOUT', message: 'WhatsApp did not answer in time', results: {} }, {}, 'WARN'],
    ['WhatsApp rejected', () => new WhatsAppRejectedError('409 twice'), 502, { code: 'BAD_GATEWAY', message: 'WhatsApp rejected the change', results: {} }, {}, 'WARN'],
    [
      'the app-state key is missing',
      () => new AppStateKeyMissingError('default'),
      500,
      { code: 'INTERNAL_SERVER_ERROR', message: APP_STATE_KEY_MISSING, results: {} },
      {},
      'ERROR',
    ],
    [
      'WhatsApp used an app-state key the device lacks',
      () => new AppStateKeyMissingError('default', 'AAAAAAE='),
      500,
      { code: 'INTERNAL_SERVER_ERROR', message: APP_STATE_KEY_MISSING, results: {} },
      {},
      'ERROR',
    ],
    ['something unexpected', () => new Error('socket exploded at 0xdeadbeef'), 500, { code: 'INTERNAL_SERVER_ERROR', message: 'internal server error', results: {} }, {}, 'ERROR'],
  ])('when %s → its status, code and message, logged once at its level', async (_case, error, status, expected, headers, level) => {
    // Prepare
    behaviour = async () => {
      throw error();
    };
    // Act
    const { result: { response, body }, logs } = await expectLogs(() => call(source, 'pin'));
    // Assess
    expect(response.statusCode).toBe(status);
    expect(body).toEqual(expected);
    expect(response.headers).toMatchObject({ 'Content-Type': 'application/json', ...headers });
    expect(logs.map((line) => line.level)).toEqual([level]);
  });
});

describe('direct invocations (Lambda Invoke, EventBridge): no basic auth, the same envelope', () => {
  it('pins from a Lambda Invoke payload', async () => {
    const result = await handler(loadEvent('direct', 'pin'), lambdaContext());
    expect(result).toEqual({
      code: 'SUCCESS',
      message: 'Chat pinned successfully',
      results: { status: 'success', message: 'Chat pinned successfully', chat_jid: '6289685028129@s.whatsapp.net', pinned: true },
    });
  });

  it('unpins on the default device when device_id is absent', async () => {
    const result = await handler(loadEvent('direct', 'unpin'), lambdaContext());
    expect(result).toMatchObject({ code: 'SUCCESS', results: { pinned: false } });
    expect(calls[0].command.deviceId).toBe('default');
  });

  it('takes the request from an EventBridge event detail', async () => {
    const result = await handler(loadEvent('eventbridge', 'pin'), lambdaContext());
    expect(result).toMatchObject({ code: 'SUCCESS', results: { chat_jid: '6289685028129@s.whatsapp.net', pinned: true } });
  });

  it.each([
    ['invalid-jid', 'chat_jid: invalid JID'],
    ['missing-pinned', 'pinned: cannot be blank'],
  ])('%s → the 400 envelope', async (name, message) => {
    expect(await handler(loadEvent('direct', name), lambdaContext())).toEqual({ code: '400', message, results: {} });
    expect(calls).toHaveLength(0);
  });

  it('maps port errors to the same envelope', async () => {
    behaviour = async () => {
      throw new DeviceBusyError('default', 5);
    };
    expect(await handler(loadEvent('direct', 'pin'), lambdaContext())).toEqual({ code: '409', message: 'device is busy, retry later', results: {} });
  });
});

describe('SQS (FIFO) batches', () => {
  it('pins every record of a batch', async () => {
    const event = loadEvent('sqs', 'pin');
    const result = (await handler(event, lambdaContext(30_000, 'req-sqs'))) as SQSBatchResponse;
    expect(result).toEqual({ batchItemFailures: [] });
    expect(calls.map((c) => c.command)).toEqual([{ deviceId: 'default', chatJid: '6289685028129@s.whatsapp.net', pinned: true }]);
    expect(calls[0].context.invocationId).toBe(`req-sqs:${event.Records[0].messageId}`);
  });

  it('sends client errors to the dead-letter queue at once and reports only what is worth retrying; other message groups go on', async () => {
    // Prepare: record 1 (group default) fails at WhatsApp; 2 (invalid JID, with an attribute) and 3 (invalid JSON) are
    // client errors; 4 (group default) comes after a failure in its group
    behaviour = async (command) => {
      if (command.pinned) throw new WhatsAppTimeoutError('no answer');
      return 'change';
    };
    const event = loadEvent('sqs', 'mixed-batch');
    const [first, invalidJid, invalidJson, afterFailure] = event.Records;
    invalidJid.messageAttributes = { traceparent: { dataType: 'String', stringValue: '00-4bf92f3577b34da6-00f067aa0ba902b7-01' } };
    // Act
    const { result } = await expectLogs(async () => (await handler(event, lambdaContext())) as SQSBatchResponse);
    // Assess: retried = the WhatsApp failure and the record behind it; the client errors are in the DLQ, unchanged
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([first.messageId, afterFailure.messageId]);
    expect(calls.map((c) => c.command.chatJid)).toEqual(['6289685028129@s.whatsapp.net']);
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: DLQ_URL,
        MessageBody: invalidJid.body,
        MessageGroupId: 'sales-phone',
        MessageDeduplicationId: invalidJid.messageId,
        MessageAttributes: {
          traceparent: { DataType: 'String', StringValue: '00-4bf92f3577b34da6-00f067aa0ba902b7-01' },
          error: { DataType: 'String', StringValue: 'chat_jid: invalid JID' },
          sourceMessageId: { DataType: 'String', StringValue: invalidJid.messageId },
        },
      },
      {
        QueueUrl: DLQ_URL,
        MessageBody: invalidJson.body,
        MessageGroupId: 'other-phone',
        MessageDeduplicationId: invalidJson.messageId,
        MessageAttributes: {
          error: { DataType: 'String', StringValue: 'body: invalid JSON' },
          sourceMessageId: { DataType: 'String', StringValue: invalidJson.messageId },
        },
      },
    ]);
  });

  it('logs every failed record once, with its own keys and none of the previous record\'s', async () => {
    // Prepare
    behaviour = async (command) => {
      if (command.pinned) throw new WhatsAppTimeoutError('no answer');
      return 'change';
    };
    const event = loadEvent('sqs', 'mixed-batch');
    // Act
    const lines = await loggedBy(() => handler(event, lambdaContext()));
    // Assess
    const failed = lines
      .filter((line) => line.message === 'sqs record failed')
      .map(({ level, messageId, messageGroupId, deviceId, chatJid, status, reason, deadLettered }) => ({ level, messageId, messageGroupId, deviceId, chatJid, status, reason, deadLettered }));
    expect(failed).toEqual([
      {
        level: 'WARN',
        messageId: event.Records[0].messageId,
        messageGroupId: 'default',
        deviceId: 'default',
        chatJid: '6289685028129@s.whatsapp.net',
        status: 504,
        reason: 'WhatsApp did not answer in time',
        deadLettered: undefined,
      },
      // client errors: INFO like any 4xx (the dead-letter queue they went to has its alarm)
      { level: 'INFO', messageId: event.Records[1].messageId, messageGroupId: 'sales-phone', deviceId: undefined, chatJid: undefined, status: 400, reason: 'chat_jid: invalid JID', deadLettered: true },
      { level: 'INFO', messageId: event.Records[2].messageId, messageGroupId: 'other-phone', deviceId: undefined, chatJid: undefined, status: 400, reason: 'body: invalid JSON', deadLettered: true },
      {
        level: 'WARN',
        messageId: event.Records[3].messageId,
        messageGroupId: 'default',
        deviceId: undefined,
        chatJid: undefined,
        status: undefined,
        reason: 'not tried: an earlier record of its message group failed',
        deadLettered: undefined,
      },
    ]);
    // … and the keys of a record stop with it: the next invocation's lines carry none of them
    const next = await loggedBy(() => handler(loadEvent('direct', 'invalid-jid'), lambdaContext()));
    expect(next.length).toBeGreaterThan(0);
    for (const line of next) expect(line).not.toHaveProperty('messageId');
  });

  it('a batch whose only failures are client errors reports none: they are in the dead-letter queue', async () => {
    // Act
    const event = loadEvent('sqs', 'mixed-batch');
    const result = (await handler(event, lambdaContext())) as SQSBatchResponse;
    // Assess
    expect(result.batchItemFailures).toEqual([]);
    expect(calls.map((c) => c.command.chatJid)).toEqual(['6289685028129@s.whatsapp.net', '120363025246125486@g.us']);
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageDeduplicationId)).toEqual([event.Records[1].messageId, event.Records[2].messageId]);
  });

  it.each([
    ['the chat does not exist', () => new ChatNotFoundError('6289685028129@s.whatsapp.net'), 'Chat not found'],
    ['the pin cap is reached', () => new PinLimitError('6289685028129@s.whatsapp.net', 3), 'You can only pin up to 3 chats'],
  ])('when %s (a client error), the record goes to the dead-letter queue at once', async (_case, error, reason) => {
    // Prepare
    behaviour = async () => {
      throw error();
    };
    // Act
    const result = (await handler(loadEvent('sqs', 'pin'), lambdaContext())) as SQSBatchResponse;
    // Assess
    expect(result.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageAttributes?.error?.StringValue)).toEqual([reason]);
  });

  it.each([
    ['the device is busy', () => new DeviceBusyError('default', 2)],
    ['the device is not logged in', () => new NotLoggedInError('default', 'logged-out')],
    ['WhatsApp rejected the change', () => new WhatsAppRejectedError('409 twice')],
    ['something unexpected (DynamoDB)', () => new Error('ProvisionedThroughputExceededException')],
  ])('when %s, the record is reported for a retry, not dead-lettered', async (_case, error) => {
    // Prepare
    behaviour = async () => {
      throw error();
    };
    const event = loadEvent('sqs', 'pin');
    // Act
    const { result } = await expectLogs(async () => (await handler(event, lambdaContext())) as SQSBatchResponse);
    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].messageId }]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('when the dead-letter queue cannot be written, the client error is reported for a retry (nothing is lost) and logged once', async () => {
    // Prepare
    sqs.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    const event = loadEvent('sqs', 'mixed-batch');
    // Act
    let result: SQSBatchResponse | undefined;
    const lines = await loggedBy(async () => {
      result = (await handler(event, lambdaContext())) as SQSBatchResponse;
    });
    // Assess
    expect(result?.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([event.Records[1].messageId, event.Records[2].messageId]);
    const failed = lines.filter((line) => line.message === 'sqs record failed');
    expect(failed.map((line) => [line.messageId, line.deadLettered, (line.deadLetterError as { message?: string } | undefined)?.message])).toEqual([
      [event.Records[1].messageId, false, 'AccessDenied'],
      [event.Records[2].messageId, false, 'AccessDenied'],
    ]);
  });
});

describe('metrics', () => {
  it('carry the deployment stage (STAGE) beside the service, so alarms of one stage see only its own pins', () => {
    // Prepare: the handler module is loaded (beforeAll) with STAGE=staging
    metrics.addMetric('PinLatency', MetricUnit.Milliseconds, 840);
    // Act
    const emf = metrics.serializeMetrics() as unknown as { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> } } & Record<string, unknown>;
    metrics.clearMetrics();
    // Assess
    expect(emf._aws.CloudWatchMetrics).toEqual([expect.objectContaining({ Namespace: 'WhatsAppPinApi', Dimensions: [['service', 'stage']] })]);
    expect(emf).toMatchObject({ service: 'whatsapp-pin-api', stage: 'staging', PinLatency: 840 });
  });
});
