/** One client WebSocket: Noise handshake, login decision, then stanzas in and out (each recorded). */
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeBinaryNode, encodeBinaryNode, type BinaryNode, type proto } from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import { NoiseResponder } from './noise-responder.js';
import type { ServerIdentity } from './cert-chain.js';
import type { DeviceRecord } from './registry.js';

/** What a connection needs from the server it belongs to. */
export interface ConnectionHost {
  identity: ServerIdentity;
  latencyMs(deviceJid?: string): number;
  refuseHandshake(): boolean;
  onPayload(connection: SimConnection, payload: proto.ClientPayload): Promise<void>;
  onStanza(connection: SimConnection, node: BinaryNode): Promise<void>;
  onRecord(connection: SimConnection, direction: 'in' | 'out', node: BinaryNode): void;
  onClose(connection: SimConnection): void;
  onError(connection: SimConnection, error: Error): void;
}

export class SimConnection {
  device?: DeviceRecord;
  closed = false;
  private readonly noise: NoiseResponder;
  private stage: 'hello' | 'finish' | 'transport' = 'hello';
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();

  constructor(readonly id: number, private readonly ws: WebSocket, private readonly host: ConnectionHost) {
    this.noise = new NoiseResponder(host.identity);
    ws.on('message', (data: Buffer) => {
      this.inbound = this.inbound.then(() => this.receive(data)).catch(error => {
        host.onError(this, error as Error);
        this.terminate();
      });
    });
    ws.on('close', () => {
      this.closed = true;
      host.onClose(this);
    });
    ws.on('error', () => this.terminate());
  }

  get deviceJid(): string | undefined { return this.device?.jid }
  get clientStatic(): Buffer | undefined { return this.noise.clientStatic }

  send(node: BinaryNode): void {
    if (this.closed) return;
    this.host.onRecord(this, 'out', node);
    this.sendRaw(this.noise.encryptFrame(encodeBinaryNode(node)));
  }

  /** Closes after everything already queued has left. */
  end(): void {
    this.outbound = this.outbound.then(() => { this.ws.close() });
  }

  terminate(): void {
    this.closed = true;
    this.ws.terminate();
  }

  private sendRaw(bytes: Buffer): void {
    this.outbound = this.outbound.then(async () => {
      const ms = this.host.latencyMs(this.deviceJid);
      if (ms > 0) await sleep(ms);
      if (!this.closed) this.ws.send(bytes);
    });
  }

  private async receive(data: Buffer): Promise<void> {
    const ms = this.host.latencyMs(this.deviceJid);
    if (ms > 0) await sleep(ms);
    for (const frame of this.noise.push(data)) {
      if (this.closed) return;
      if (this.stage === 'hello') {
        if (this.host.refuseHandshake()) return this.terminate();
        this.sendRaw(this.noise.respondToHello(frame));
        this.stage = 'finish';
      } else if (this.stage === 'finish') {
        const payload = this.noise.readFinish(frame);
        this.stage = 'transport';
        await this.host.onPayload(this, payload);
      } else {
        const node = await decodeBinaryNode(this.noise.decryptFrame(frame));
        this.host.onRecord(this, 'in', node);
        await this.host.onStanza(this, node);
      }
    }
  }
}
