import { describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerAuthenticator } from '../../lib/auth/api-credentials.js';
import { credentialDigest, decodeBasicAuthorization, matchesAny, parseBasicAuthList } from '../../lib/auth/basic-auth.js';

// Wrong-user and wrong-password rejections must not be told apart by timing. Asserted by construction,
// not by a timer: the same work happens whatever the candidate, and every configured entry is compared.
const LIST = 'alice:first-password,bob:second-password,carol:rotated-password,gowa:pin-test-password';
const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;

/** The configured digests behind a proxy that counts which entries the comparison reads. */
function countingList(list: string) {
  const digests = parseBasicAuthList(list);
  const reads: number[] = [];
  const proxy = new Proxy(digests, {
    get(target, property, receiver) {
      if (typeof property === 'string' && /^\d+$/.test(property)) reads.push(Number(property));
      return Reflect.get(target, property, receiver);
    },
  });
  return { proxy, reads, size: digests.length };
}

const CANDIDATES: Array<[string, string, boolean]> = [
  ['the first entry', 'alice:first-password', true],
  ['a middle entry', 'carol:rotated-password', true],
  ['the last entry', 'gowa:pin-test-password', true],
  ['a wrong user with a valid password', 'mallory:pin-test-password', false],
  ['a valid user with a wrong password', 'gowa:pin-test-passwore', false],
  ['a valid user with a prefix of the password', 'gowa:pin', false],
  ['a wrong user and a wrong password', 'x:y', false],
  ['a very long candidate', `gowa:${'p'.repeat(10_000)}`, false],
];

describe('Basic auth compares in constant time by construction', () => {
  it.each(CANDIDATES)('%s: every configured entry is compared, in order, without an early exit', (_, candidate, expected) => {
    // Prepare
    const { proxy, reads, size } = countingList(LIST);
    // Act
    const matched = matchesAny(candidate, proxy);
    // Assess
    expect(matched).toBe(expected);
    expect(reads).toEqual(Array.from({ length: size }, (__, index) => index));
  });

  it('digests have one length whatever the input, so timingSafeEqual never meets a length mismatch', () => {
    // Prepare
    const inputs = ['', 'a', 'gowa:pin-test-password', 'ü:ß', `${'x'.repeat(100_000)}:y`];
    // Act
    const lengths = [...inputs.map((input) => credentialDigest(input).length), ...parseBasicAuthList(LIST).map((digest) => digest.length)];
    // Assess
    expect(new Set(lengths)).toEqual(new Set([32]));
  });

  it('the candidate is digested whole: user and password are never compared separately', () => {
    // Prepare: two candidates of equal length, one wrong in the user, one in the password
    const wrongUser = decodeBasicAuthorization(basic('gowb:pin-test-password'));
    const wrongPassword = decodeBasicAuthorization(basic('gowa:pin-test-passwore'));
    // Act
    const digests = [credentialDigest(wrongUser!), credentialDigest(wrongPassword!)];
    // Assess: both reach the comparison as the full pair, as same-length digests
    expect(wrongUser).toBe('gowb:pin-test-password');
    expect(wrongPassword).toBe('gowa:pin-test-passwore');
    expect(digests[0].length).toBe(digests[1].length);
  });

  it('the authenticator does the same secret lookups for a wrong user and a wrong password', async () => {
    // Prepare
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ basic_auth: LIST }) });
    const lookups = async (header: string) => {
      const authenticator = new SecretsManagerAuthenticator('timing-secret', new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) }));
      secrets.resetHistory();
      const outcomes = [await authenticator.authenticate(header), await authenticator.authenticate(header)];
      return { outcomes, calls: secrets.commandCalls(GetSecretValueCommand).length };
    };
    // Act
    const wrongUser = await lookups(basic('mallory:pin-test-password'));
    const wrongPassword = await lookups(basic('gowa:wrong-password'));
    // Assess
    expect(wrongUser).toEqual({ outcomes: [false, false], calls: 1 });
    expect(wrongPassword).toEqual(wrongUser);
    secrets.restore();
  });
});
