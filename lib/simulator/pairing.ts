/** QR pairing on the server side: pair-device refs, the phone's scan → pair-success, pair-device-sign check, 515. */
import { randomBytes } from 'node:crypto';
import type { BinaryNode, proto } from '@whiskeysockets/baileys';
import type { SimConnection } from './connection.js';
import { verifySignature } from './curve25519.js';
import { buildPairSuccess, parseQr, verifyPairDeviceSign } from './pairing-crypto.js';
import type { AccountRecord, DeviceRecord } from './registry.js';
import { SERVER_JID, stanzaId, type SimServer } from './simulator.js';

const REF_COUNT = 6;
const SIGN_TIMEOUT_MS = 20_000;

interface PendingPairing {
  refs: string[];
  pairingData: proto.ClientPayload.IDevicePairingRegistrationData;
  awaiting?: { id: string; device: DeviceRecord; account: AccountRecord; done: (error?: Error) => void };
}

export class Pairing {
  private readonly pending = new Map<SimConnection, PendingPairing>();

  constructor(private readonly server: SimServer) {}

  /** A registration payload (no username): offer QR refs. */
  start(connection: SimConnection, payload: proto.ClientPayload): void {
    if (!payload.devicePairingData) {
      this.server.violation('bad-client-payload', 'neither username nor devicePairingData');
      connection.send({ tag: 'failure', attrs: { reason: '400' } });
      return connection.end();
    }
    const refs = Array.from({ length: REF_COUNT }, () => `2@${randomBytes(24).toString('base64')}`);
    this.pending.set(connection, { refs, pairingData: payload.devicePairingData });
    connection.send({ tag: 'iq', attrs: { from: SERVER_JID, type: 'set', id: stanzaId(), xmlns: 'md' }, content: [
      { tag: 'pair-device', attrs: {}, content: refs.map(ref => ({ tag: 'ref', attrs: {}, content: Buffer.from(ref) })) },
    ] });
  }

  /** The phone scans a QR string: a new device for the account, announced with a signed pair-success. */
  scanQr(qr: string, account: AccountRecord): Promise<void> {
    const data = parseQr(qr);
    const entry = [...this.pending].find(([, pending]) => pending.refs.includes(data.ref));
    if (!entry) return Promise.reject(new Error('QR ref unknown or expired'));
    const [connection, pending] = entry;
    const { eRegid, eIdent, eSkeyId, eSkeyVal, eSkeySig } = pending.pairingData;
    const identity = Buffer.from(eIdent ?? []);
    const reject = (detail: string) => {
      this.server.violation('pairing-rejected', detail);
      return Promise.reject(new Error(detail));
    };
    if (!connection.clientStatic?.equals(data.noisePublicKey)) return reject('QR noise key differs from the connection static key');
    if (!identity.equals(data.identityPublicKey)) return reject('QR identity key differs from the registration payload');
    if (eRegid?.length !== 4 || eSkeyId?.length !== 3 || eSkeyVal?.length !== 32 || eSkeySig?.length !== 64) return reject('malformed devicePairingData');
    if (!verifySignature(identity, Buffer.concat([Buffer.from([5]), eSkeyVal]), eSkeySig)) return reject('signed pre-key signature invalid');
    const device = this.server.registry.addDevice(account, {
      noisePublic: Buffer.from(data.noisePublicKey),
      identityPublic: identity,
      registrationId: Buffer.from(eRegid).readUInt32BE(0),
      signedPreKey: { keyId: Buffer.from(eSkeyId).readUIntBE(0, 3), publicKey: Buffer.from(eSkeyVal), signature: Buffer.from(eSkeySig) },
      preKeys: new Map(),
      platform: data.platformId,
    });
    const node = buildPairSuccess({
      phoneNumber: account.phoneNumber, lid: account.lid, deviceId: device.device, companionIdentityPub: identity,
      advSecret: data.advSecret, accountKeyPair: account.accountKey, platform: 'android', id: stanzaId(),
    });
    return new Promise<void>((resolve, rejectPromise) => {
      const timer = setTimeout(() => done(new Error('no pair-device-sign from the companion')), SIGN_TIMEOUT_MS);
      const done = (error?: Error) => {
        clearTimeout(timer);
        pending.awaiting = undefined;
        if (error) {
          device.removed = true;
          this.server.violation('pairing-rejected', error.message, device.jid);
          rejectPromise(error);
        } else resolve();
      };
      pending.awaiting = { id: node.attrs.id, device, account, done };
      connection.send(node);
    });
  }

  /** IQ results from a pairing connection: the pair-device ack, or the pair-device-sign answering pair-success. */
  onIqResult(connection: SimConnection, node: BinaryNode): void {
    const pending = this.pending.get(connection);
    const awaiting = pending?.awaiting;
    if (!awaiting || node.attrs.id !== awaiting.id) return;
    const check = verifyPairDeviceSign(node, { companionIdentityPub: awaiting.device.identityPublic, accountPublicKey: awaiting.account.accountKey.public });
    if (!check.ok) return awaiting.done(new Error(check.reason));
    awaiting.device.awaitingKeyShare = true;
    this.pending.delete(connection);
    connection.send({ tag: 'stream:error', attrs: { code: '515' } });
    connection.end();
    awaiting.done();
  }

  /** A freshly paired device uploaded its pre-keys: now the phone can open a Signal session and share the key. */
  afterPreKeyUpload(device: DeviceRecord): void {
    if (!device.awaitingKeyShare) return;
    device.awaitingKeyShare = false;
    this.server.shareAppStateKey(device);
  }

  forget(connection: SimConnection): void {
    this.pending.get(connection)?.awaiting?.done(new Error('pairing connection closed'));
    this.pending.delete(connection);
  }
}
