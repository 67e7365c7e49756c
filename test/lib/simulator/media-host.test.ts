import { describe, expect, it } from '@jest/globals';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { downloadContentFromMessage, getMediaKeys } from '@whiskeysockets/baileys';
import { decryptMediaBlob, MediaHost, MediaMacError } from '../../../lib/simulator/media-host.js';
import { simulatorPerTest } from './baileys-client.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();
const mediaHostOf = (sim: unknown) => (sim as { media: MediaHost }).media;
const download = async (stream: AsyncIterable<Buffer>) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
};

describe('simulator media host', () => {
  const fx = simulatorPerTest();

  it("serves an md-app-state blob that decrypts with Baileys' media-key derivation and AES-256-CBC", async () => {
    // Prepare
    const plaintext = randomBytes(5_000);
    const ref = mediaHostOf(fx.sim).upload(plaintext);
    // Act
    const response = await fetch(`${fx.sim.mediaUrl}${ref.directPath}`);
    const file = Buffer.from(await response.arrayBuffer());
    const { iv, cipherKey } = await getMediaKeys(ref.mediaKey!, 'md-app-state');
    const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
    const decrypted = Buffer.concat([decipher.update(file.subarray(0, -10)), decipher.final()]);
    const viaBaileys = await download(await downloadContentFromMessage({ mediaKey: ref.mediaKey, url: `${fx.sim.mediaUrl}${ref.directPath}` }, 'md-app-state'));
    // Assess
    expect(response.status).toBe(200);
    expect(ref.directPath).toMatch(/^\/v\/t62\.\d+-24\/\d+_\d+_n\.enc\?ccb=11-4&oh=.+&oe=[0-9A-F]+$/);
    expect(decrypted.equals(plaintext)).toBe(true);
    expect(viaBaileys.equals(plaintext)).toBe(true);
    expect(Buffer.from(ref.fileSha256!).equals(sha256(plaintext))).toBe(true);
    expect(Buffer.from(ref.fileEncSha256!).equals(sha256(file))).toBe(true);
    expect(Number(ref.fileSizeBytes)).toBe(plaintext.length);
    expect(decryptMediaBlob(file, ref.mediaKey!).equals(plaintext)).toBe(true);
  });

  it('fails the MAC of a blob served with a corrupted byte, and answers 404 for an unknown path', async () => {
    // Prepare
    const ref = mediaHostOf(fx.sim).upload(randomBytes(1_000));
    fx.sim.setMediaFaults([{ kind: 'corrupt', directPath: ref.directPath!, times: 1 }]);
    // Act
    const corrupted = Buffer.from(await (await fetch(`${fx.sim.mediaUrl}${ref.directPath}`)).arrayBuffer());
    const intact = Buffer.from(await (await fetch(`${fx.sim.mediaUrl}${ref.directPath}`)).arrayBuffer());
    const unknown = await fetch(`${fx.sim.mediaUrl}/v/t62.7118-24/0_0_n.enc`);
    // Assess
    expect(() => decryptMediaBlob(corrupted, ref.mediaKey!)).toThrow(MediaMacError);
    expect(decryptMediaBlob(intact, ref.mediaKey!)).toHaveLength(1_000);
    expect(unknown.status).toBe(404);
    expect(fx.sim.mediaRequests.map(r => r.status)).toEqual([200, 200, 404]);
  });

  it('answers with an injected HTTP status, per blob or globally, and delays when told to', async () => {
    // Prepare
    const a = mediaHostOf(fx.sim).upload(randomBytes(100));
    const b = mediaHostOf(fx.sim).upload(randomBytes(100));
    fx.sim.setMediaFaults([{ kind: 'http-status', status: 500, directPath: a.directPath!, times: 1 }, { kind: 'delay', ms: 150, directPath: b.directPath! }]);
    // Act
    const first = (await fetch(`${fx.sim.mediaUrl}${a.directPath}`)).status;
    const second = (await fetch(`${fx.sim.mediaUrl}${a.directPath}`)).status;
    const started = performance.now();
    const delayed = (await fetch(`${fx.sim.mediaUrl}${b.directPath}`)).status;
    const delayMs = performance.now() - started;
    fx.sim.setMediaFaults([{ kind: 'http-status', status: 404 }]);
    const globally = [(await fetch(`${fx.sim.mediaUrl}${a.directPath}`)).status, (await fetch(`${fx.sim.mediaUrl}${b.directPath}`)).status];
    fx.sim.clearFaults();
    const cleared = (await fetch(`${fx.sim.mediaUrl}${b.directPath}`)).status;
    // Assess
    expect([first, second, delayed]).toEqual([500, 200, 200]);
    expect(delayMs).toBeGreaterThanOrEqual(140);
    expect(globally).toEqual([404, 404]);
    expect(cleared).toBe(200);
  });
});
