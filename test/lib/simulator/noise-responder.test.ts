import { describe, expect, it } from '@jest/globals';
import { Curve, decodeBinaryNode, encodeBinaryNode, initAuthCreds, makeNoiseHandler, NOISE_WA_HEADER, proto, WA_CERT_DETAILS } from '@whiskeysockets/baileys';
import { createServerIdentity } from '../../../lib/simulator/cert-chain.js';
import { NoiseHandshakeError, NoiseResponder } from '../../../lib/simulator/noise-responder.js';
import { silentLogger } from './baileys-client.js';

/** Baileys' own client-side noise handler against our responder, without sockets. */
function handshake(routingInfo?: Buffer) {
  const identity = createServerIdentity();
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(identity.rootPublicKey);
  const server = new NoiseResponder(identity);
  const ephemeral = Curve.generateKeyPair();
  const creds = initAuthCreds();
  const client = makeNoiseHandler({ keyPair: ephemeral, NOISE_HEADER: NOISE_WA_HEADER, logger: silentLogger, routingInfo });
  const hello = client.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish());
  const [helloFrame] = server.push(hello);
  const serverHello = server.respondToHello(helloFrame).subarray(3);
  const keyEnc = client.processHandshake(proto.HandshakeMessage.decode(serverHello), creds.noiseKey);
  const payload = client.encrypt(proto.ClientPayload.encode({ username: 15550000001, device: 1, passive: true }).finish());
  const finish = proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload } }).finish();
  return { server, client, creds, finish };
}

describe('NoiseResponder', () => {
  it('completes Baileys\' XX handshake (plain and routed intro), reads the ClientPayload and carries stanzas both ways', async () => {
    for (const routingInfo of [undefined, Buffer.from([8, 1, 8, 2])]) {
      // Prepare
      const { server, client, creds, finish } = handshake(routingInfo);
      // Act
      const payload = server.readFinish(server.push(client.encodeFrame(finish))[0]);
      await client.finishInit();
      const up = server.push(client.encodeFrame(encodeBinaryNode({ tag: 'iq', attrs: { id: '1', xmlns: 'w:p', type: 'get' } })));
      const received = await decodeBinaryNode(server.decryptFrame(up[0]));
      const down: unknown[] = [];
      await client.decodeFrame(server.encryptFrame(encodeBinaryNode({ tag: 'iq', attrs: { id: '1', type: 'result' } })), frame => down.push(frame));
      // Assess
      expect(Number(payload.username)).toBe(15550000001);
      expect(server.clientStatic?.equals(Buffer.from(creds.noiseKey.public))).toBe(true);
      expect(server.routingInfo).toEqual(routingInfo);
      expect(received).toMatchObject({ tag: 'iq', attrs: { xmlns: 'w:p' } });
      expect(down).toEqual([expect.objectContaining({ tag: 'iq', attrs: { id: '1', type: 'result' } })]);
    }
  });

  it('rejects a client finish with one flipped byte', () => {
    // Prepare
    const { server, client, finish } = handshake();
    const tampered = Buffer.from(finish);
    tampered[tampered.length - 5] ^= 1;
    // Act
    const attempt = () => server.readFinish(server.push(client.encodeFrame(tampered))[0]);
    // Assess
    expect(attempt).toThrow(NoiseHandshakeError);
    expect(server.established).toBe(false);
  });

  it('rejects an intro that is not a WhatsApp header', () => {
    // Prepare
    const server = new NoiseResponder(createServerIdentity());
    // Act
    const attempt = () => server.push(Buffer.from('GET / HTTP/1.1\r\n'));
    // Assess
    expect(attempt).toThrow(NoiseHandshakeError);
  });
});
