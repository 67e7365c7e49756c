/**
 * App-state blobs by reference (snapshots, external mutations): downloaded from WhatsApp's media host and
 * decrypted as media type `md-app-state` (Baileys' media-key derivation). Unlike Baileys' downloader, the
 * file hash, the MAC and the plaintext hash are all checked, and the host can be overridden
 * (WHATSAPP_MEDIA_URL: the simulator serves its own).
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { getMediaKeys, hmacSign, type proto } from '@whiskeysockets/baileys';
import { AppStateVerificationError, WhatsAppRejectedError, WhatsAppTimeoutError } from '../errors.js';
import { sameMac } from './app-state-crypto.js';

export const WHATSAPP_MEDIA_URL = 'https://mmg.whatsapp.net';
const MAC_BYTES = 10;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();

/** Downloads and decrypts a blob; resolves with its plaintext (a SyncdSnapshot or SyncdMutations). */
export async function downloadExternalBlob(ref: proto.IExternalBlobReference, options: { mediaUrl?: string; by: number }): Promise<Buffer> {
  const { directPath, mediaKey } = ref;
  if (!directPath || !mediaKey?.length) throw new AppStateVerificationError('app state does not verify: blob reference without path or key');
  const url = `${(options.mediaUrl ?? WHATSAPP_MEDIA_URL).replace(/\/+$/, '')}${directPath}`;
  let file: Buffer;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, options.by - Date.now())) });
    if (!response.ok) throw new WhatsAppRejectedError(`media host answered ${response.status} for an app-state blob`);
    file = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof WhatsAppRejectedError) throw error;
    if ((error as Error).name === 'TimeoutError') throw new WhatsAppTimeoutError('media host did not answer in time', { cause: error });
    throw new WhatsAppRejectedError('media host unreachable', { cause: error });
  }
  if (ref.fileEncSha256?.length && !sameMac(sha256(file), ref.fileEncSha256)) throw new AppStateVerificationError('app state does not verify: blob file hash');
  const { iv, cipherKey, macKey } = await getMediaKeys(mediaKey, 'md-app-state');
  const ciphertext = file.subarray(0, -MAC_BYTES);
  if (file.length <= MAC_BYTES || !sameMac(hmacSign(Buffer.concat([iv, ciphertext]), macKey!).subarray(0, MAC_BYTES), file.subarray(-MAC_BYTES))) {
    throw new AppStateVerificationError('app state does not verify: blob MAC');
  }
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (error) {
    throw new AppStateVerificationError('app state does not verify: blob does not decrypt', { cause: error });
  }
  if (ref.fileSha256?.length && !sameMac(sha256(plaintext), ref.fileSha256)) throw new AppStateVerificationError('app state does not verify: blob plaintext hash');
  return plaintext;
}
