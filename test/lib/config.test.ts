import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../lib/config.js';

const required = { SESSION_TABLE: 'sessions', API_CREDENTIALS_SECRET_ID: 'secret' };
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/pin-dlq.fifo';

describe('loadConfig', () => {
  it('reads the documented variables with their documented defaults', () => {
    expect(loadConfig(required)).toEqual({
      sessionTable: 'sessions',
      apiCredentialsSecretId: 'secret',
      defaultDeviceId: 'default',
      whatsappWsUrl: undefined,
      whatsappMediaUrl: undefined,
      maxPinnedChats: 3,
      checkChatExists: true,
      pinTimeoutMs: 20_000,
      leaseSeconds: 30,
      deadLetterQueueUrl: undefined,
      stage: undefined,
    });
  });

  it('takes overrides', () => {
    const config = loadConfig({ ...required, DEFAULT_DEVICE_ID: 'sales', WHATSAPP_WS_URL: 'ws://127.0.0.1:1/ws/chat', CHECK_CHAT_EXISTS: 'false', PIN_TIMEOUT_MS: '9000', LEASE_SECONDS: '12', WHATSAPP_MEDIA_URL: 'http://127.0.0.1:2', MAX_PINNED_CHATS: '0', DEAD_LETTER_QUEUE_URL: DLQ_URL, STAGE: 'staging', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001', FINISH_AFTER_RESPONSE: 'false' });
    expect(config).toMatchObject({ lambdaRuntimeApi: '127.0.0.1:9001', finishAfterResponse: false, deadLetterQueueUrl: DLQ_URL, stage: 'staging', defaultDeviceId: 'sales', whatsappWsUrl: 'ws://127.0.0.1:1/ws/chat', whatsappMediaUrl: 'http://127.0.0.1:2', maxPinnedChats: 0, checkChatExists: false, pinTimeoutMs: 9000, leaseSeconds: 12 });
  });

  it.each(['SESSION_TABLE', 'API_CREDENTIALS_SECRET_ID'])('fails fast without %s', (name) => {
    expect(() => loadConfig({ ...required, [name]: ' ' })).toThrow(`missing required environment variable ${name}`);
  });

  it.each([
    ['CHECK_CHAT_EXISTS', 'yes'],
    ['FINISH_AFTER_RESPONSE', 'later'],
    ['PIN_TIMEOUT_MS', '60000'],
    ['LEASE_SECONDS', 'ten'],
    ['MAX_PINNED_CHATS', '-1'],
    ['DEAD_LETTER_QUEUE_URL', 'pin-dlq.fifo'],
    ['DEAD_LETTER_QUEUE_URL', 'arn:aws:sqs:eu-west-1:123456789012:pin-dlq.fifo'],
  ])('rejects %s=%s', (name, value) => {
    expect(() => loadConfig({ ...required, [name]: value })).toThrow(name);
  });
});
