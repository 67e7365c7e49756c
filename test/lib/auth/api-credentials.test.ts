import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerAuthenticator } from '../../../lib/auth/api-credentials.js';

const SECRET_ID = 'pin-api-credentials';
const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;
const secrets = mockClient(SecretsManagerClient);
const secretWith = (list: string) => ({ SecretString: JSON.stringify({ basic_auth: list }) });

describe('SecretsManagerAuthenticator', () => {
  let authenticator: SecretsManagerAuthenticator;

  beforeEach(() => {
    // Prepare: only Date is faked (time is an edge); the SDK's own timers stay real
    jest.useFakeTimers({ now: new Date('2026-11-26T12:00:00Z'), doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'nextTick', 'queueMicrotask', 'hrtime', 'performance'] });
    secrets.reset();
    secrets.on(GetSecretValueCommand).resolves(secretWith('admin:first-password,ops:p:with:colons'));
    authenticator = new SecretsManagerAuthenticator(SECRET_ID, new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) }));
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('accepts every configured pair and caches the secret', async () => {
    // Act
    const results = [
      await authenticator.authenticate(basic('admin:first-password')),
      await authenticator.authenticate(basic('ops:p:with:colons')),
      await authenticator.authenticate(basic('admin:first-password')),
      await authenticator.authenticate(basic('ops:p:with:colons')),
    ];
    // Assess
    expect(results).toEqual([true, true, true, true]);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['wrong scheme', 'Bearer abc'],
    ['not base64', 'Basic ***'],
    ['no colon', basic('adminfirst-password')],
    ['empty password', basic('admin:')],
    ['empty user', basic(':first-password')],
    ['wrong password', basic('admin:second-password')],
    ['wrong user', basic('root:first-password')],
    ['a prefix of the password', basic('admin:first')],
    ['two credentials', `${basic('admin:first-password')}, ${basic('admin:first-password')}`],
    ['oversized', `Basic ${'A'.repeat(8192)}`],
  ])('rejects %s', async (_case, header) => {
    expect(await authenticator.authenticate(header)).toBe(false);
  });

  it('picks up a rotated password without a cold start, refetching once when the cached copy is older than 30 s', async () => {
    // Prepare: warm cache, then the secret rotates
    expect(await authenticator.authenticate(basic('admin:first-password'))).toBe(true);
    secrets.on(GetSecretValueCommand).resolves(secretWith('admin:rotated-password'));
    // Act: within 30 s a failed match does not refetch
    jest.setSystemTime(Date.now() + 10_000);
    const early = await authenticator.authenticate(basic('admin:rotated-password'));
    const callsEarly = secrets.commandCalls(GetSecretValueCommand).length;
    jest.setSystemTime(Date.now() + 25_000);
    const later = await authenticator.authenticate(basic('admin:rotated-password'));
    // Assess
    expect(early).toBe(false);
    expect(callsEarly).toBe(1);
    expect(later).toBe(true);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(await authenticator.authenticate(basic('admin:first-password'))).toBe(false);
  });

  it('refetches after 5 minutes even when nothing fails', async () => {
    await authenticator.authenticate(basic('admin:first-password'));
    jest.setSystemTime(Date.now() + 301_000);
    await authenticator.authenticate(basic('admin:first-password'));
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('a secret without "basic_auth" is a server error, not a silent 401', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ user: 'admin' }) });
    await expect(authenticator.authenticate(basic('admin:first-password'))).rejects.toThrow('has no "basic_auth" string');
  });
});
