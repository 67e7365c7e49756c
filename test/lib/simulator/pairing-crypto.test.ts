import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  aesDecryptCTR, aesEncryptCTR, aesEncryptGCM, Browsers, buildPairingQRData, bytesToCrockford, configureSuccessfulPairing, Curve,
  derivePairingCodeKey, getBinaryNodeChild, getBinaryNodeChildBuffer, getCompanionPlatformId, hkdf, initAuthCreds, proto,
  type AuthenticationCreds, type BinaryNode,
} from '@whiskeysockets/baileys';
import { generateKeyPair } from '../../../lib/simulator/curve25519.js';
import {
  answerCompanionHello, buildPairSuccess, finishPairingCode, parseCompanionHello, parseQr, verifyPairDeviceSign,
} from '../../../lib/simulator/pairing-crypto.js';

const PHONE = '15550002222';
const LID = '112233445566';
const browser = Browsers.macOS('Chrome');

/** What a phone "scanning" Baileys' QR produces for it. */
function scan(creds: AuthenticationCreds, accountKeyPair = generateKeyPair()) {
  const qr = buildPairingQRData('2@ref-one', Buffer.from(creds.noiseKey.public).toString('base64'),
    Buffer.from(creds.signedIdentityKey.public).toString('base64'), creds.advSecretKey, browser);
  const parsed = parseQr(qr);
  return { qr, parsed, accountKeyPair, input: { phoneNumber: PHONE, lid: `${LID}@lid`, deviceId: 4, companionIdentityPub: parsed.identityPublicKey, advSecret: parsed.advSecret, accountKeyPair, platform: 'android' } };
}

describe('QR pairing', () => {
  it('parses the QR Baileys shows', () => {
    // Prepare
    const creds = initAuthCreds();

    // Act
    const { parsed } = scan(creds);

    // Assess
    expect(parsed.ref).toBe('2@ref-one');
    expect(Buffer.from(parsed.noisePublicKey)).toEqual(Buffer.from(creds.noiseKey.public));
    expect(Buffer.from(parsed.identityPublicKey)).toEqual(Buffer.from(creds.signedIdentityKey.public));
    expect(Buffer.from(parsed.advSecret).toString('base64')).toBe(creds.advSecretKey);
    expect(parsed.platformId).toBe(getCompanionPlatformId(browser));
    expect(() => parseQr('ref,AAAA,BBBB')).toThrow(/5/);
    expect(() => parseQr(`ref,${'A'.repeat(40)},${'A'.repeat(44)},${'A'.repeat(44)},1`)).toThrow(/noise key/);
  });

  it('builds a pair-success Baileys accepts, and verifies the pair-device-sign Baileys answers with', () => {
    // Prepare
    const creds = initAuthCreds();
    const { input, accountKeyPair } = scan(creds);
    const node = buildPairSuccess({ ...input, id: 'pair-1', t: 1_700_000_000 });

    // Act
    const { creds: update, reply } = configureSuccessfulPairing(node, creds);
    const check = verifyPairDeviceSign(reply, { companionIdentityPub: creds.signedIdentityKey.public, accountPublicKey: accountKeyPair.public });

    // Assess
    expect(node.attrs).toMatchObject({ type: 'set', id: 'pair-1', t: '1700000000' });
    expect(update.me).toEqual({ id: `${PHONE}:4@s.whatsapp.net`, lid: `${LID}:4@lid`, name: undefined });
    expect(update.platform).toBe('android');
    expect(Buffer.from(update.account!.accountSignatureKey!)).toEqual(Buffer.from(accountKeyPair.public));
    expect(update.signalIdentities?.[0].identifier).toEqual({ name: `${LID}:4@lid`, deviceId: 0 });
    expect(reply.attrs).toMatchObject({ type: 'result', id: 'pair-1' });
    expect(check).toEqual({ ok: true, keyIndex: 4 });
  });

  it('is rejected by Baileys with another adv secret; with another account key only our pair-device-sign check catches it', () => {
    // Prepare
    const creds = initAuthCreds();
    const { input, accountKeyPair } = scan(creds);
    const wrongSecret = buildPairSuccess({ ...input, advSecret: randomBytes(32) });
    const wrongKey = buildPairSuccess({ ...input, accountKeyPair: { ...accountKeyPair, private: generateKeyPair().private } });

    // Act
    const withWrongSecret = () => configureSuccessfulPairing(wrongSecret, creds);
    // Baileys rc14's Curve.verify ignores libsignal's boolean result (it only fails on malformed input), so it accepts this
    const { reply } = configureSuccessfulPairing(wrongKey, creds);
    const check = verifyPairDeviceSign(reply, { companionIdentityPub: creds.signedIdentityKey.public, accountPublicKey: accountKeyPair.public });

    // Assess
    expect(withWrongSecret).toThrow('Invalid account signature');
    expect(check).toEqual({ ok: false, reason: 'account signature does not match the identity the phone issued' });
  });

  it('rejects a pair-device-sign with a forged device signature, from another companion, or with a wrong key-index', () => {
    // Prepare
    const creds = initAuthCreds();
    const { input, accountKeyPair } = scan(creds);
    const { reply } = configureSuccessfulPairing(buildPairSuccess(input), creds);
    const identityNode = getBinaryNodeChild(getBinaryNodeChild(reply, 'pair-device-sign'), 'device-identity')!;
    const signed = proto.ADVSignedDeviceIdentity.decode(identityNode.content as Uint8Array);
    const withIdentity = (content: Uint8Array, keyIndex = identityNode.attrs['key-index']): BinaryNode =>
      ({ ...reply, content: [{ tag: 'pair-device-sign', attrs: {}, content: [{ tag: 'device-identity', attrs: { 'key-index': keyIndex }, content }] }] });
    const forgedSignature = Buffer.from(signed.deviceSignature!);
    forgedSignature[10] ^= 0x20;
    const forged = withIdentity(proto.ADVSignedDeviceIdentity.encode({ ...signed, deviceSignature: forgedSignature }).finish());
    const expected = { companionIdentityPub: creds.signedIdentityKey.public, accountPublicKey: accountKeyPair.public };

    // Act
    const results = [
      verifyPairDeviceSign(forged, expected),
      verifyPairDeviceSign(reply, { ...expected, companionIdentityPub: generateKeyPair().public }),
      verifyPairDeviceSign(withIdentity(identityNode.content as Uint8Array, '9'), expected),
      verifyPairDeviceSign({ tag: 'iq', attrs: {} }, expected),
    ];

    // Assess
    expect(results).toEqual([
      { ok: false, reason: 'device signature invalid' },
      { ok: false, reason: 'account signature does not match the identity the phone issued' },
      { ok: false, reason: 'key-index 9 does not match 4' },
      { ok: false, reason: 'missing pair-device-sign/device-identity' },
    ]);
  });
});

/** The companion side of pairing-code login exactly as Baileys rc14 does it (Socket/socket.js requestPairingCode and
 *  Socket/messages-recv.js link_code_companion_reg), built from Baileys' own exported crypto functions. */
const baileysCompanion = {
  async hello(creds: AuthenticationCreds, code: string): Promise<BinaryNode> {
    const salt = randomBytes(32);
    const iv = randomBytes(16);
    const wrapped = Buffer.concat([salt, iv, aesEncryptCTR(creds.pairingEphemeralKeyPair.public, await derivePairingCodeKey(code, salt), iv)]);
    return {
      tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'set', id: 'hello-1', xmlns: 'md' },
      content: [{
        tag: 'link_code_companion_reg', attrs: { jid: `${PHONE}@s.whatsapp.net`, stage: 'companion_hello', should_show_push_notification: 'true' },
        content: [
          { tag: 'link_code_pairing_wrapped_companion_ephemeral_pub', attrs: {}, content: wrapped },
          { tag: 'companion_server_auth_key_pub', attrs: {}, content: creds.noiseKey.public },
          { tag: 'companion_platform_id', attrs: {}, content: getCompanionPlatformId(browser) },
          { tag: 'companion_platform_display', attrs: {}, content: `${browser[1]} (${browser[0]})` },
          { tag: 'link_code_pairing_nonce', attrs: {}, content: '0' },
        ],
      }],
    };
  },
  async finish(creds: AuthenticationCreds, code: string, notification: BinaryNode): Promise<{ finish: BinaryNode; advSecretKey: string }> {
    const reg = getBinaryNodeChild(notification, 'link_code_companion_reg');
    const ref = getBinaryNodeChildBuffer(reg, 'link_code_pairing_ref')!;
    const primaryIdentity = Buffer.from(getBinaryNodeChildBuffer(reg, 'primary_identity_pub')!);
    const wrapped = Buffer.from(getBinaryNodeChildBuffer(reg, 'link_code_pairing_wrapped_primary_ephemeral_pub')!);
    const primaryEphemeral = aesDecryptCTR(wrapped.subarray(48, 80), await derivePairingCodeKey(code, wrapped.subarray(0, 32)), wrapped.subarray(32, 48));
    const companionShared = Curve.sharedKey(creds.pairingEphemeralKeyPair.private, primaryEphemeral);
    const random = randomBytes(32);
    const salt = randomBytes(32);
    const iv = randomBytes(12);
    const key = hkdf(companionShared, 32, { salt, info: 'link_code_pairing_key_bundle_encryption_key' });
    const bundle = Buffer.concat([salt, iv, aesEncryptGCM(Buffer.concat([creds.signedIdentityKey.public, primaryIdentity, random]), key, iv, Buffer.alloc(0))]);
    const identityShared = Curve.sharedKey(creds.signedIdentityKey.private, primaryIdentity);
    const advSecretKey = Buffer.from(hkdf(Buffer.concat([companionShared, identityShared, random]), 32, { info: 'adv_secret' })).toString('base64');
    const finish: BinaryNode = {
      tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'set', id: 'finish-1', xmlns: 'md' },
      content: [{
        tag: 'link_code_companion_reg', attrs: { jid: `${PHONE}@s.whatsapp.net`, stage: 'companion_finish' },
        content: [
          { tag: 'link_code_pairing_wrapped_key_bundle', attrs: {}, content: bundle },
          { tag: 'companion_identity_public', attrs: {}, content: creds.signedIdentityKey.public },
          { tag: 'link_code_pairing_ref', attrs: {}, content: ref },
        ],
      }],
    };
    return { finish, advSecretKey };
  },
};

describe('pairing code', () => {
  it('agrees on the companion identity and adv secret with Baileys, so the resulting pair-success is accepted', async () => {
    // Prepare
    const creds = initAuthCreds();
    const code = bytesToCrockford(randomBytes(5));
    const account = generateKeyPair();
    const hello = parseCompanionHello(await baileysCompanion.hello(creds, code));

    // Act
    const { state, notification } = await answerCompanionHello(hello, code, account);
    const companion = await baileysCompanion.finish(creds, code, notification);
    const result = finishPairingCode(companion.finish, state);
    const paired = configureSuccessfulPairing(
      buildPairSuccess({ phoneNumber: PHONE, lid: LID, deviceId: 2, companionIdentityPub: result.companionIdentityPub, advSecret: result.advSecret, accountKeyPair: account, platform: 'android' }),
      { ...creds, advSecretKey: companion.advSecretKey },
    );

    // Assess
    expect(hello).toMatchObject({ companionJid: `${PHONE}@s.whatsapp.net`, platformId: getCompanionPlatformId(browser), platformDisplay: 'Chrome (Mac OS)' });
    expect(Buffer.from(hello.companionServerAuthKeyPub)).toEqual(Buffer.from(creds.noiseKey.public));
    expect(notification.attrs).toMatchObject({ from: '@s.whatsapp.net', type: 'link_code_companion_reg' });
    expect(Buffer.from(result.companionIdentityPub)).toEqual(Buffer.from(creds.signedIdentityKey.public));
    expect(Buffer.from(result.advSecret).toString('base64')).toBe(companion.advSecretKey);
    expect(paired.creds.me?.id).toBe(`${PHONE}:2@s.whatsapp.net`);
  });

  it('fails to finish when the code typed on the phone differs from the companion code', async () => {
    // Prepare
    const creds = initAuthCreds();
    const code = 'ABCD1234';
    const hello = parseCompanionHello(await baileysCompanion.hello(creds, code));
    const { state, notification } = await answerCompanionHello(hello, 'ABCD1235', generateKeyPair());
    const { finish } = await baileysCompanion.finish(creds, code, notification);

    // Act
    const finishing = () => finishPairingCode(finish, state);

    // Assess
    expect(finishing).toThrow(/unable to authenticate|auth/i);
  });
});
