/**
 * The simulated media host (what https://mmg.whatsapp.net is to a real client): encrypted blobs served over loopback
 * HTTP at their directPath. App-state snapshots and external mutations are hosted here, encrypted as media type
 * "md-app-state" with node:crypto (recipe below), and referenced by a protobuf ExternalBlobReference.
 *
 * md-app-state: expanded = HKDF-SHA256(mediaKey, empty salt, "WhatsApp App State Keys", 112); iv = [0,16),
 * cipherKey = [16,48), macKey = [48,80); file = AES-256-CBC(cipherKey, iv, plaintext) ‖ HMAC-SHA256(macKey, iv ‖ ciphertext)[0,10).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { proto } from '@whiskeysockets/baileys';
import type { MediaFault, MediaRequestRecord } from './index.js';

const MAC_BYTES = 10;
const APP_STATE_INFO = 'WhatsApp App State Keys';

export interface MediaKeys { iv: Buffer; cipherKey: Buffer; macKey: Buffer }

/** HKDF expansion of a 32-byte media key for "md-app-state". */
export function appStateMediaKeys(mediaKey: Uint8Array): MediaKeys {
  const expanded = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), APP_STATE_INFO, 112));
  return { iv: expanded.subarray(0, 16), cipherKey: expanded.subarray(16, 48), macKey: expanded.subarray(48, 80) };
}

/** The file a media host stores: AES-256-CBC ciphertext ‖ the first 10 bytes of its HMAC. */
export function encryptMediaBlob(plaintext: Uint8Array, mediaKey: Uint8Array): Buffer {
  const { iv, cipherKey, macKey } = appStateMediaKeys(mediaKey);
  const cipher = createCipheriv('aes-256-cbc', cipherKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha256', macKey).update(iv).update(ciphertext).digest().subarray(0, MAC_BYTES);
  return Buffer.concat([ciphertext, mac]);
}

export class MediaMacError extends Error {}

/** Checks the MAC, then decrypts (throws MediaMacError on a MAC mismatch). */
export function decryptMediaBlob(file: Uint8Array, mediaKey: Uint8Array): Buffer {
  const { iv, cipherKey, macKey } = appStateMediaKeys(mediaKey);
  const bytes = Buffer.from(file);
  if (bytes.length < 16 + MAC_BYTES) throw new MediaMacError('media blob too short');
  const ciphertext = bytes.subarray(0, -MAC_BYTES);
  const mac = createHmac('sha256', macKey).update(iv).update(ciphertext).digest().subarray(0, MAC_BYTES);
  if (!timingSafeEqual(mac, bytes.subarray(-MAC_BYTES))) throw new MediaMacError('media blob MAC does not match');
  const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/** A directPath shaped like the real ones: /v/t62.<n>-24/<digits>_<digits>_n.enc?ccb=11-4&oh=…&oe=… */
const newDirectPath = () =>
  `/v/t62.${randomInt(1000, 9999)}-24/${randomInt(10 ** 7, 10 ** 8)}_${randomInt(10 ** 13, 10 ** 14)}_n.enc?ccb=11-4&oh=01_${randomBytes(18).toString('base64url')}&oe=${randomBytes(4).toString('hex').toUpperCase()}`;

const pathOf = (directPath: string) => directPath.split('?')[0];

export class MediaHost {
  url = '';
  readonly requests: MediaRequestRecord[] = [];
  private readonly blobs = new Map<string, Buffer>();
  private faults: (MediaFault & { used: number })[] = [];
  private server?: Server;

  /** Encrypts `plaintext` under a fresh media key, hosts it, and returns the reference a client gets. */
  upload(plaintext: Uint8Array): proto.ExternalBlobReference {
    const mediaKey = randomBytes(32);
    const file = encryptMediaBlob(plaintext, mediaKey);
    const directPath = newDirectPath();
    this.blobs.set(pathOf(directPath), file);
    return proto.ExternalBlobReference.create({
      mediaKey,
      directPath,
      handle: randomBytes(16).toString('base64'),
      fileSizeBytes: plaintext.length,
      fileSha256: sha256(plaintext),
      fileEncSha256: sha256(file),
    });
  }

  /** The plaintext of a hosted blob (server-side: what the server itself reads, with no fault applied); undefined if absent. */
  read(ref: proto.IExternalBlobReference): Buffer | undefined {
    const file = ref.directPath ? this.blobs.get(pathOf(ref.directPath)) : undefined;
    if (!file || !ref.mediaKey) return undefined;
    return decryptMediaBlob(file, ref.mediaKey);
  }

  /** The stored (encrypted) file at a directPath. */
  file(directPath: string): Buffer | undefined { return this.blobs.get(pathOf(directPath)) }

  setFaults(faults: MediaFault[]): void { this.faults = faults.map(fault => ({ ...fault, used: 0 })) }

  clearFaults(): void { this.faults = [] }

  faultSnapshot(): MediaFault[] { return this.faults.map(({ used: _used, ...fault }) => fault) }

  async listen(host = '127.0.0.1'): Promise<void> {
    this.server = createServer((request, response) => void this.serve(request, response));
    this.server.listen(0, host);
    await once(this.server, 'listening');
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('unexpected media host address');
    this.url = `http://${address.address}:${address.port}`;
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve, reject) => {
      server.closeAllConnections();
      server.close(error => (error ? reject(error) : resolve()));
    });
  }

  private takeFaults(path: string): MediaFault[] {
    const matching = this.faults.filter(fault => (fault.directPath === undefined || pathOf(fault.directPath) === path) && (fault.times === undefined || fault.used < fault.times));
    for (const fault of matching) fault.used++;
    return matching;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = pathOf(request.url ?? '/');
    const faults = request.method === 'GET' ? this.takeFaults(path) : [];
    for (const fault of faults) if (fault.kind === 'delay') await sleep(fault.ms);
    const failure = faults.find((fault): fault is Extract<MediaFault, { kind: 'http-status' }> => fault.kind === 'http-status');
    let file = request.method === 'GET' ? this.blobs.get(path) : undefined;
    const status = failure ? failure.status : file ? 200 : 404;
    if (file && faults.some(fault => fault.kind === 'corrupt')) {
      file = Buffer.from(file);
      file[file.length >> 1] ^= 0x01;
    }
    this.requests.push({ path, status, at: Date.now() });
    if (status !== 200 || !file) {
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(status === 404 ? 'not found' : 'error');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.length) });
    response.end(file);
  }
}
