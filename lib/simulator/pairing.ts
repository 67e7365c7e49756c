/** QR pairing on the server side: pair-device refs, the phone's scan → pair-success, pair-device-sign check, 515. */
import { randomBytes } from 'node:crypto';
import type { BinaryNode, proto } from '@whiskeysockets/baileys';
import type { SimConnection } from './connection.js';
import { verifySignature } from './curve25519.js';
import {
  answerCompanionHello, buildPairSuccess, finishPairingCode, parseCompanionHello, parseQr, verifyPairDeviceSign,
  type CompanionHello, type PairingCodeState,
} from './pairing-crypto.js';
import { QueryError } from './queries.js';
import { userOf, type AccountRecord, type DeviceRecord } from './registry.js';
import { errorReply, result, SERVER_JID, stanzaId, type SimServer } from './simulator.js';

const REF_COUNT = 6;
const SIGN_TIMEOUT_MS = 20_000;

interface PendingPairing {
  refs: string[];
  pairingData: proto.ClientPayload.IDevicePairingRegistrationData;
  awaiting?: { id: string; device: DeviceRecord; account: AccountRecord; done: (error?: Error) => void };
  hello?: CompanionHello;
  codeExchange?: { state: PairingCodeState; resolve: (keys: { companionIdentityPub: Uint8Array; advSecret: Uint8Array }) => void; reject: (error: Error) => void };
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
    if (!connection.clientStatic?.equals(data.noisePublicKey)) return this.refuse('QR noise key differs from the connection static key');
    return this.link(connection, pending, account, { identity: Buffer.from(data.identityPublicKey), advSecret: data.advSecret, platform: data.platformId });
  }

  /** The companion asked for a pairing code (stage companion_hello): remember it until the code is typed on the phone. */
  onCompanionHello(connection: SimConnection, iq: BinaryNode): BinaryNode {
    const pending = this.pending.get(connection);
    if (!pending) throw new QueryError(400, 'bad-request');
    pending.hello = parseCompanionHello(iq);
    return result(iq);
  }

  /** The user types the companion's code on the phone: the phone answers with its wrapped ephemeral key, then waits for
   *  companion_finish (whose key bundle only decrypts with the right code) and links the device like a QR scan. */
  async enterPairingCode(account: AccountRecord, code: string): Promise<void> {
    const entry = [...this.pending].find(([, pending]) => pending.hello && userOf(pending.hello.companionJid) === account.phoneNumber);
    if (!entry) throw new Error(`no companion is waiting for a pairing code for ${account.phoneNumber}`);
    const [connection, pending] = entry;
    const { state, notification } = await answerCompanionHello(pending.hello!, code, account.accountKey);
    const finished = new Promise<{ companionIdentityPub: Uint8Array; advSecret: Uint8Array }>((resolve, reject) => {
      pending.codeExchange = { state, resolve, reject };
    });
    connection.send(notification);
    const { companionIdentityPub, advSecret } = await finished;
    return this.link(connection, pending, account, { identity: Buffer.from(companionIdentityPub), advSecret, platform: pending.hello!.platformId });
  }

  /** stage companion_finish: checked with the code exchange state (a wrong code fails to decrypt the key bundle). */
  onCompanionFinish(connection: SimConnection, iq: BinaryNode): BinaryNode {
    const exchange = this.pending.get(connection)?.codeExchange;
    if (!exchange) throw new QueryError(400, 'bad-request');
    try {
      exchange.resolve(finishPairingCode(iq, exchange.state));
      return result(iq);
    } catch (error) {
      this.server.violation('pairing-rejected', `companion_finish: ${(error as Error).message}`);
      exchange.reject(error as Error);
      return errorReply(iq, 401, 'not-authorized');
    }
  }

  private refuse(detail: string): Promise<never> {
    this.server.violation('pairing-rejected', detail);
    return Promise.reject(new Error(detail));
  }

  private link(connection: SimConnection, pending: PendingPairing, account: AccountRecord, companion: { identity: Buffer; advSecret: Uint8Array; platform: string }): Promise<void> {
    const { eRegid, eIdent, eSkeyId, eSkeyVal, eSkeySig } = pending.pairingData;
    const identity = companion.identity;
    if (!identity.equals(Buffer.from(eIdent ?? []))) return this.refuse('companion identity key differs from the registration payload');
    if (eRegid?.length !== 4 || eSkeyId?.length !== 3 || eSkeyVal?.length !== 32 || eSkeySig?.length !== 64) return this.refuse('malformed devicePairingData');
    if (!verifySignature(identity, Buffer.concat([Buffer.from([5]), eSkeyVal]), eSkeySig)) return this.refuse('signed pre-key signature invalid');
    if (!connection.clientStatic) return this.refuse('pairing connection has no noise key');
    const device = this.server.registry.addDevice(account, {
      noisePublic: connection.clientStatic,
      identityPublic: identity,
      registrationId: Buffer.from(eRegid).readUInt32BE(0),
      signedPreKey: { keyId: Buffer.from(eSkeyId).readUIntBE(0, 3), publicKey: Buffer.from(eSkeyVal), signature: Buffer.from(eSkeySig) },
      preKeys: new Map(),
      platform: companion.platform,
    });
    const node = buildPairSuccess({
      phoneNumber: account.phoneNumber, lid: account.lid, deviceId: device.device, companionIdentityPub: identity,
      advSecret: companion.advSecret, accountKeyPair: account.accountKey, platform: 'android', id: stanzaId(),
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('no pair-device-sign from the companion')), SIGN_TIMEOUT_MS);
      const done = (error?: Error) => {
        clearTimeout(timer);
        pending.awaiting = undefined;
        if (error) {
          device.removed = true;
          this.server.violation('pairing-rejected', error.message, device.jid);
          reject(error);
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
    this.pending.get(connection)?.codeExchange?.reject(new Error('pairing connection closed'));
    this.pending.delete(connection);
  }
}
