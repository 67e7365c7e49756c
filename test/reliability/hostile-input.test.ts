import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { PinChatCommand, WhatsAppPort } from '../../lib/pin/whatsapp-port.js';
import { documented } from '../support/documented.js';
import { lambdaContext, loadEvent, SAMPLE_BASIC_AUTH } from '../support/events.js';

// Property-based fuzzing of the real middy chain (auth, header normaliser, body limit, JSON parser,
// validation, error mapping). The WhatsApp port is a recording double; Secrets Manager is mocked at the SDK edge.
const calls: PinChatCommand[] = [];
const port: WhatsAppPort = {
  setChatPinned: async (command) => {
    calls.push(command);
    return 'change';
  },
};
jest.unstable_mockModule('../../lib/whatsapp/create-whatsapp-port.js', () => ({ createWhatsAppPort: () => port }));

const SECRET_ID = 'pin-api-credentials-fuzz';
const FUZZ_RUNS = 10_000;
const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;
const VALID_AUTH = basic(SAMPLE_BASIC_AUTH);
let handler: (event: unknown, context: unknown) => Promise<unknown>;

beforeAll(async () => {
  process.env.SESSION_TABLE = 'sessions';
  process.env.API_CREDENTIALS_SECRET_ID = SECRET_ID;
  process.env.DEFAULT_DEVICE_ID = 'default';
  mockClient(SecretsManagerClient).on(GetSecretValueCommand, { SecretId: SECRET_ID }).resolves({ SecretString: JSON.stringify({ basic_auth: SAMPLE_BASIC_AUTH }) });
  handler = documented(((await import('../../functions/pin-chat.js')) as unknown as { handler: typeof handler }).handler);
});

// ---- generators: each part of a request, with whether it is acceptable ----

interface Part<T> {
  value: T;
  ok: boolean;
}
const good = <T,>(value: T): Part<T> => ({ value, ok: true });
const bad = <T,>(value: T): Part<T> => ({ value, ok: false });

/** Authorization header values; `undefined` = absent, an array = the header sent twice. */
const authorization: fc.Arbitrary<Part<string | string[] | undefined>> = fc.oneof(
  { weight: 24, arbitrary: fc.constantFrom(good(VALID_AUTH), good(`basic ${VALID_AUTH.slice(6)}`), good(`Basic   ${VALID_AUTH.slice(6)}`), good(VALID_AUTH.replace(/=+$/, ''))) },
  fc.constant(bad(undefined)),
  fc.constantFrom(bad(basic('gowa:wrong-password')), bad(basic('nobody:pin-test-password')), bad(basic('gowa:')), bad(basic(':pin-test-password')), bad(basic('gowapin-test-password'))),
  fc.string({ maxLength: 64 }).map((rest) => bad(`Basic ${rest}`)),
  fc.string({ unit: 'binary', maxLength: 64 }).map((rest) => bad(`Basic ${Buffer.from(rest).toString('base64')}`)),
  fc.tuple(fc.constantFrom('Bearer', 'Digest', 'Token', 'Negotiate', 'AWS4-HMAC-SHA256', ''), fc.string({ maxLength: 40 })).map(([scheme, rest]) => bad(`${scheme} ${rest}`)),
  fc.constantFrom(bad(`Bearer ${VALID_AUTH.slice(6)}`), bad(VALID_AUTH.slice(6)), bad(`${VALID_AUTH}x`), bad(`Basic ${VALID_AUTH.slice(6, -4)}`)),
  fc.constant(bad([VALID_AUTH, VALID_AUTH])),
  fc.constant(bad([basic('gowa:wrong'), VALID_AUTH])),
  fc.nat({ max: 20_000 }).map((n) => bad(`${VALID_AUTH}${'A'.repeat(4096 + n)}`)),
  fc.string({ unit: 'grapheme', maxLength: 100 }).map((value) => bad(value)),
);

const validJid = fc.constantFrom(
  '6289685028129@s.whatsapp.net',
  '6289685028129',
  '+62 896-8502-8129',
  '120363025246125486@g.us',
  '6281234567890-1596452341@g.us',
  '123456789012345@lid',
  '6289685028129%40s.whatsapp.net',
);
const hostileJid = fc.oneof(
  fc.constantFrom(
    '..%2F..%2Fetc%2Fpasswd',
    '../../etc/passwd',
    '6289685028129%2F..%2F@s.whatsapp.net',
    '%2e%2e%2f',
    '6289685028129@s.whatsapp.net%00',
    '6289685028129:12@s.whatsapp.net',
    '٦٢٨٩٦٨٥٠٢٨١٢٩@s.whatsapp.net',
    '６２８９６８５０２８１２９@s.whatsapp.net',
    '6289685028129@s.whatsapp.net\n',
    '%',
    '%E0%A4%A',
    '%C0%AF',
    '',
    '__proto__',
    'constructor',
  ),
  // Without an "@" and not a phone number, a string is never a chat JID.
  fc.string({ unit: 'grapheme', maxLength: 80 }).filter((s) => !s.includes('@') && !/^[+0-9 -]*$/.test(s)),
  fc.nat({ max: 20_000 }).map((n) => `${'9'.repeat(129 + n)}@s.whatsapp.net`),
  fc.string({ maxLength: 40 }).filter((s) => !s.includes('@') && !/^[+0-9 -]*$/.test(s)).map((s) => encodeURIComponent(s)),
);
const chatJid: fc.Arbitrary<Part<string | undefined>> = fc.oneof(
  { weight: 3, arbitrary: validJid.map(good) },
  { weight: 3, arbitrary: hostileJid.map(bad) },
  fc.constant(bad(undefined)),
);

const deviceId: fc.Arbitrary<Part<{ header?: string; query?: string }>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(good({})) },
  fc.constantFrom(good({ header: 'sales-phone' }), good({ query: 'sales-phone' }), good({ header: 'phone%2B1' })),
  fc.constantFrom(bad({ header: '../default' }), bad({ header: 'x'.repeat(200) }), bad({ query: '-leading-dash' }), bad({ header: '%ZZ' }), bad({ header: 'a/b' })),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/.test(s) && !s.includes('%')).map((header) => bad({ header })),
);

/** Nested JSON of a given depth, as arrays or objects. */
const nested = fc.tuple(fc.integer({ min: 1, max: 8_000 }), fc.boolean()).map(([depth, objects]) =>
  objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`,
);
const pollution = fc.constantFrom(
  '{"pinned":true,"__proto__":{"polluted":true}}',
  '{"__proto__":{"pinned":true}}',
  '{"pinned":true,"constructor":{"prototype":{"polluted":true}}}',
  '{"pinned":true,"a":{"__proto__":{"polluted":true}}}',
  '{"pinned":{"__proto__":{"valueOf":1}}}',
);

interface Body {
  body?: string;
  isBase64Encoded: boolean;
  /** The pinned value the request carries when the body is acceptable. */
  pinned?: boolean;
}
const body: fc.Arbitrary<Part<Body>> = fc.oneof(
  { weight: 6, arbitrary: fc.boolean().map((pinned) => good({ body: JSON.stringify({ pinned }), isBase64Encoded: false, pinned })) },
  fc.boolean().map((pinned) => good({ body: Buffer.from(JSON.stringify({ pinned })).toString('base64'), isBase64Encoded: true, pinned })),
  fc.tuple(fc.boolean(), fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => !['pinned', '__proto__', 'constructor', 'prototype'].includes(k)), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }).filter((extra) => !/__proto__|constructor/.test(JSON.stringify(extra)))).map(
    ([pinned, extra]) => good({ body: JSON.stringify({ ...extra, pinned }), isBase64Encoded: false, pinned }),
  ),
  fc.jsonValue({ maxDepth: 6 }).filter((v) => typeof (v as { pinned?: unknown })?.pinned !== 'boolean').map((v) => bad({ body: JSON.stringify(v), isBase64Encoded: false })),
  fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => bad({ body: s, isBase64Encoded: false })),
  nested.map((s) => bad({ body: s, isBase64Encoded: false })),
  pollution.map((s) => bad({ body: s, isBase64Encoded: false })),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => bad({ body: Buffer.from(bytes).toString('base64'), isBase64Encoded: true })),
  // Invalid UTF-8 decodes to U+FFFD: fatal in the JSON's structure, harmless inside an ignored string.
  fc.constant(bad({ body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'), isBase64Encoded: true })),
  fc.constant(good({ body: Buffer.concat([Buffer.from('{"pinned":true,"x":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]).toString('base64'), isBase64Encoded: true, pinned: true })),
  fc.constantFrom(bad({ body: 'not base64 at all!', isBase64Encoded: true }), bad({ body: undefined, isBase64Encoded: false }), bad({ body: '', isBase64Encoded: false })),
  fc.integer({ min: 16 * 1024, max: 200 * 1024 }).map((size) => bad({ body: JSON.stringify({ pinned: true, padding: 'é'.repeat(size / 2) }), isBase64Encoded: false })),
);

const contentType: fc.Arbitrary<Part<string | undefined>> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(good('application/json'), good('application/json; charset=utf-8'), good('Application/JSON')) },
  fc.constantFrom(bad(undefined), bad('text/plain'), bad('application/x-www-form-urlencoded'), bad('json')),
  fc.string({ maxLength: 40 }).filter((s) => !/^application\/(.+\+)?json/i.test(s)).map((s) => bad(s)),
);

const method = fc.oneof({ weight: 8, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'post', 'TRACE'));
const extraHeaders = fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }).filter((name) => !/^(authorization|content-type|x-device-id)$/i.test(name)), fc.string({ maxLength: 200 }), { maxKeys: 4 });

const request = fc.record({ v2: fc.boolean(), method, authorization, chatJid, deviceId, body, contentType, extraHeaders });
type Request = typeof request extends fc.Arbitrary<infer R> ? R : never;

/** The API Gateway event of a generated request, v1 or v2 as API Gateway would deliver it. */
function toEvent(r: Request): Record<string, unknown> {
  const auth = r.authorization.value;
  const headers: Record<string, string> = { ...r.extraHeaders };
  const multi: Record<string, string[]> = Object.fromEntries(Object.entries(r.extraHeaders).map(([name, value]) => [name, [value]]));
  if (auth !== undefined) {
    // Duplicates: API Gateway v2 joins them with a comma, v1 keeps the last one in `headers` and all in `multiValueHeaders`.
    const values = Array.isArray(auth) ? auth : [auth];
    headers[r.v2 ? 'authorization' : 'Authorization'] = r.v2 ? values.join(',') : values.at(-1)!;
    multi.Authorization = values;
  }
  if (r.contentType.value !== undefined) headers[r.v2 ? 'content-type' : 'Content-Type'] = r.contentType.value;
  if (r.deviceId.value.header !== undefined) headers[r.v2 ? 'x-device-id' : 'X-Device-Id'] = r.deviceId.value.header;
  const query = r.deviceId.value.query === undefined ? undefined : { device_id: r.deviceId.value.query };
  const pathParameters = r.chatJid.value === undefined ? undefined : { chat_jid: r.chatJid.value };
  const event = loadEvent(r.v2 ? 'api-gateway-v2' : 'api-gateway-v1', 'pin') as unknown as Record<string, unknown>;
  Object.assign(event, { headers, pathParameters, body: r.body.value.body, isBase64Encoded: r.body.value.isBase64Encoded });
  if (r.v2) {
    Object.assign((event.requestContext as { http: object }).http, { method: r.method });
    event.queryStringParameters = query;
  } else {
    Object.assign(event, { httpMethod: r.method, multiValueHeaders: multi, queryStringParameters: query ?? null });
  }
  return event;
}

/** Whether a v1/v2 event's Authorization is the valid one after API Gateway's duplicate handling. */
const authorized = (r: Request) =>
  Array.isArray(r.authorization.value) ? !r.v2 && r.authorization.value.at(-1) === VALID_AUTH : r.authorization.ok;

const ENVELOPE = { code: expect.any(String), message: expect.any(String), results: expect.any(Object) };
const ACCEPTED = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;
const JID = /^([1-9][0-9]{4,19}@s\.whatsapp\.net|[0-9]{5,30}@g\.us|[1-9][0-9]{4,19}-[0-9]{5,20}@g\.us|[1-9][0-9]{4,19}@lid)$/;

describe('hostile input through the real middy chain (fast-check)', () => {
  it(`${FUZZ_RUNS} generated requests: always the envelope, never a 5xx, the port only for valid authenticated requests`, async () => {
    // Prepare
    const statuses: Record<number, number> = {};
    const property = fc.asyncProperty(request, async (r) => {
      calls.length = 0;
      // Act
      const response = (await handler(toEvent(r), lambdaContext())) as APIGatewayProxyResult;
      // Assess
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      expect(response.headers).toMatchObject({ 'Content-Type': 'application/json' });
      const envelope = JSON.parse(response.body) as { results: unknown };
      expect(envelope).toEqual(ENVELOPE);
      expect(envelope.results === null || Array.isArray(envelope.results)).toBe(false);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect([200, 400, 401, 413]).toContain(response.statusCode);
      if (!authorized(r)) {
        expect(response.statusCode).toBe(401);
        expect(response.headers).toMatchObject({ 'WWW-Authenticate': 'Basic realm="whatsapp"' });
      }
      const valid = authorized(r) && r.chatJid.ok && r.deviceId.ok && r.body.ok && r.contentType.ok;
      if (valid) {
        expect(response.statusCode).toBe(200);
        expect(calls).toEqual([{ chatJid: expect.stringMatching(JID), pinned: r.body.value.pinned, deviceId: expect.stringMatching(ACCEPTED) }]);
      } else {
        expect(response.statusCode).not.toBe(200);
        expect(calls).toEqual([]);
      }
    });
    // Act / Assess
    await fc.assert(property, { numRuns: FUZZ_RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) });
    expect(Object.values(statuses).reduce((sum, n) => sum + n, 0)).toBe(FUZZ_RUNS);
    expect(Object.keys(statuses).sort()).toEqual(['200', '400', '401', '413']);
    console.info(`hostile input: ${FUZZ_RUNS} requests, statuses ${JSON.stringify(statuses)}`);
  }, 300_000);
});
