/** Server-side pre-key store per device: uploads (verified), count, digest, and handing out bundles. */
import { createHash } from 'node:crypto';
import { getBinaryNodeChild, getBinaryNodeChildBuffer, getBinaryNodeChildren, type BinaryNode } from '@whiskeysockets/baileys';
import { verifySignature } from './curve25519.js';
import type { DeviceRecord, SignedPreKeyRecord } from './registry.js';

const KEY_BUNDLE_TYPE = Buffer.from([5]);
const be = (value: number, bytes: number) => {
  const out = Buffer.alloc(bytes);
  out.writeUIntBE(value, 0, bytes);
  return out;
};
const child = (node: BinaryNode | undefined, tag: string) => {
  const value = getBinaryNodeChildBuffer(node, tag);
  return value ? Buffer.from(value) : undefined;
};

export interface PreKeyBundle {
  registrationId: number;
  identityKey: Buffer;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKey?: { keyId: number; publicKey: Buffer };
}

export class InvalidKeyBundle extends Error {}

function readSignedPreKey(skey: BinaryNode | undefined, identity: Buffer): SignedPreKeyRecord {
  const id = child(skey, 'id');
  const publicKey = child(skey, 'value');
  const signature = child(skey, 'signature');
  if (!id || id.length !== 3 || publicKey?.length !== 32 || signature?.length !== 64) throw new InvalidKeyBundle('malformed <skey>');
  if (!verifySignature(identity, Buffer.concat([KEY_BUNDLE_TYPE, publicKey]), signature)) throw new InvalidKeyBundle('signed pre-key signature does not verify against the identity key');
  return { keyId: id.readUIntBE(0, 3), publicKey, signature };
}

/** `<iq xmlns="encrypt" type="set">` with registration/type/identity/list/skey: checked, then stored on the device. */
export function acceptPreKeyUpload(device: DeviceRecord, iq: BinaryNode): number {
  const registration = child(iq, 'registration');
  const type = child(iq, 'type');
  const identity = child(iq, 'identity');
  if (registration?.length !== 4 || !type?.equals(KEY_BUNDLE_TYPE) || identity?.length !== 32) throw new InvalidKeyBundle('malformed key bundle header');
  if (!identity.equals(device.identityPublic)) throw new InvalidKeyBundle('identity key differs from the one the device was linked with');
  const signedPreKey = readSignedPreKey(getBinaryNodeChild(iq, 'skey'), identity);
  const keys = getBinaryNodeChildren(getBinaryNodeChild(iq, 'list'), 'key').map(key => {
    const id = child(key, 'id');
    const value = child(key, 'value');
    if (id?.length !== 3 || value?.length !== 32) throw new InvalidKeyBundle('malformed <key>');
    return [id.readUIntBE(0, 3), value] as const;
  });
  device.registrationId = registration.readUInt32BE(0);
  device.signedPreKey = signedPreKey;
  for (const [id, value] of keys) device.preKeys.set(id, value);
  return keys.length;
}

/** `<rotate><skey/></rotate>`: a new signed pre-key, verified against the device identity. */
export function rotateSignedPreKey(device: DeviceRecord, rotate: BinaryNode): void {
  device.signedPreKey = readSignedPreKey(getBinaryNodeChild(rotate, 'skey'), device.identityPublic);
}

/** The `<digest>` the server answers with: what it holds for the device, and a SHA-1 over it. */
export function digestNode(device: DeviceRecord): BinaryNode {
  const ids = [...device.preKeys.keys()];
  const hash = createHash('sha1').update(device.identityPublic).update(device.signedPreKey.publicKey).update(device.signedPreKey.signature);
  for (const id of ids) hash.update(device.preKeys.get(id)!);
  return {
    tag: 'digest',
    attrs: {},
    content: [
      { tag: 'type', attrs: {}, content: KEY_BUNDLE_TYPE },
      { tag: 'identity', attrs: {}, content: device.identityPublic },
      { tag: 'skey', attrs: {}, content: [
        { tag: 'id', attrs: {}, content: be(device.signedPreKey.keyId, 3) },
        { tag: 'value', attrs: {}, content: device.signedPreKey.publicKey },
        { tag: 'signature', attrs: {}, content: device.signedPreKey.signature },
      ] },
      { tag: 'list', attrs: {}, content: ids.map(id => ({ tag: 'id', attrs: {}, content: be(id, 3) })) },
      { tag: 'hash', attrs: {}, content: hash.digest() },
    ],
  };
}

/** A bundle for opening a Signal session to the device; the one-time pre-key is handed out once. */
export function takePreKeyBundle(device: DeviceRecord): PreKeyBundle {
  const first = device.preKeys.entries().next();
  const preKey = first.done ? undefined : { keyId: first.value[0], publicKey: first.value[1] };
  if (preKey) device.preKeys.delete(preKey.keyId);
  return { registrationId: device.registrationId, identityKey: device.identityPublic, signedPreKey: { ...device.signedPreKey }, preKey };
}
