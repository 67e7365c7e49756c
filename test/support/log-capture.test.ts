import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { noise, scan, TEST_PASSWORDS } from './log-capture-scan.ts';
import { expectLogs } from './expected-logs.js';
import { logger } from '../../lib/observability.js';
import { keyMaterial } from './log-capture-secrets.ts';

describe('log capture scanner', () => {
  const key = randomBytes(32);
  const secrets = [...keyMaterial('device', { noiseKey: { private: key, public: randomBytes(32) } }), { label: 'a test API password', value: TEST_PASSWORDS[0] }];

  it('finds key material in base64, base64url and hex, passwords, and secret-shaped lines', () => {
    // Prepare
    const log = [
      `{"message":"x","blob":"AAAA${key.toString('base64')}"}`,
      `token ${key.toString('base64url')}`,
      `hex=${key.toString('hex')}`,
      'login as gowa:pin-test-password',
      'authorization: Basic Z293YTpwaW4tdGVzdC1wYXNzd29yZA==',
      '{"creds":{"noiseKey":{"private":{"type":"Buffer","data":"AAAA"}}}}',
      '{"level":"INFO","message":"pin call","deviceId":"default","status":200}',
    ].join('\n');
    // Act
    const findings = scan('worker.log', log, secrets);
    // Assess
    const byLine = (line: number) => findings.filter((finding) => finding.line === line).map((finding) => finding.what);
    expect(byLine(1)).toEqual(['device noiseKey.private']);
    expect(byLine(2)).toEqual(['device noiseKey.private']);
    expect(byLine(3)).toEqual(['device noiseKey.private']);
    expect(byLine(4)).toEqual(['a test API password']);
    expect(byLine(5)).toEqual(['Basic credentials']);
    expect(byLine(6)).toEqual(['a "private" key field', 'a "noiseKey" field', 'a BufferJSON value']);
    expect(byLine(7)).toEqual([]);
  });

  it('takes key material from BufferJSON values, only under secret-named fields', () => {
    // Act
    const found = keyMaterial('stored', { signedPreKey: { keyPair: { private: { type: 'Buffer', data: key.toString('base64') }, public: { type: 'Buffer', data: key.toString('base64') } } } });
    // Assess
    expect(found).toEqual([{ label: 'stored signedPreKey.keyPair.private', value: key.toString('base64'), binary: true }]);
  });

  it('flags ERROR lines, stack traces and the empty-metrics warning a passing run must not print, but not expected ones', () => {
    // Prepare
    const log = [
      'stdout\t{"level":"ERROR","message":"request failed","status":500}',
      'stdout\t{"level":"WARN","message":"request failed","error":{"name":"Error","stack":"Error: boom\\n    at x"}}',
      'stderr\t    at BaileysWhatsApp.connect (/work/lib/whatsapp/baileys-whatsapp.ts:160:13)',
      'stderr\t    at async PinChat.execute (/work/lib/pin/pin-chat.ts:49:5)',
      'stdout\tNo application metrics to publish. The cold-start metric may be published if enabled.',
      'expected:stdout\t{"level":"ERROR","message":"request failed","error":{"stack":"Error: boom"}}',
      'stdout\t{"level":"INFO","message":"pin call","deviceId":"default","status":200}',
      'stderr\t    console.info',
      'stderr\t      at console.original [as info] (test/support/log-capture-setup.ts:42:56)',
    ].join('\n');
    // Act
    const found = noise('worker.log', log);
    // Assess
    expect(found.map(({ line, what }) => [line, what])).toEqual([
      [1, 'an ERROR log line'],
      [2, 'a stack trace'],
      [4, 'a stack trace'],
      [5, 'Powertools\' "No application metrics to publish"'],
    ]);
  });

  it('hands what is printed inside expectLogs to the test', async () => {
    // Act
    const { result, logs } = await expectLogs(async () => {
      logger.error('a failure under test', { status: 500 });
      return 'done';
    });
    // Assess
    expect(result).toBe('done');
    expect(logs).toEqual([expect.objectContaining({ level: 'ERROR', message: 'a failure under test', status: 500 })]);
  });
});
