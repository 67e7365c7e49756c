/**
 * A loopback TCP proxy in front of the simulator that (1) adds a one-way latency to every chunk in
 * each direction, pipelined (a burst of frames costs one latency, not one per frame, as on a real
 * network), and (2) notes when each WebSocket data frame leaves the client and reaches the client,
 * seen from the client's side of the link. The round-trip count is computed from these times.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** One proxied connection: WebSocket data frames, in order, with client-side times (performance.now). */
export interface WireConnection {
  /** When the client sent each data frame (frame 0 = Noise hello, 1 = Noise finish, then one stanza each). */
  sent: number[];
  /** When each server data frame reached the client (frame 0 = Noise server hello, then one stanza each). */
  received: number[];
}

/** Calls `onFrame(opcode)` for each WebSocket frame of one direction (after the HTTP upgrade), payload skipped. */
class FrameCounter {
  private head = Buffer.alloc(0);
  private skip = 0;
  private upgraded = false;

  constructor(private readonly onFrame: (opcode: number) => void) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (!this.upgraded) {
      this.head = Buffer.concat([this.head, data]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.upgraded = true;
      data = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
    }
    while (data.length > 0) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        continue;
      }
      const head = Buffer.concat([this.head, data]);
      const len7 = head.length >= 2 ? head[1]! & 0x7f : 0;
      const headerLength = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (head.length >= 2 && head[1]! & 0x80 ? 4 : 0);
      if (head.length < 2 || head.length < headerLength) {
        this.head = head;
        return;
      }
      this.head = Buffer.alloc(0);
      this.skip = len7 === 126 ? head.readUInt16BE(2) : len7 === 127 ? Number(head.readBigUInt64BE(2)) : len7;
      this.onFrame(head[0]! & 0x0f);
      data = head.subarray(headerLength);
    }
  }
}

const isData = (opcode: number) => opcode === 0x1 || opcode === 0x2;

export interface WireProxy {
  /** ws://127.0.0.1:PORT/ws/chat (the simulator's path). */
  url: string;
  /** One-way delay added to every chunk in each direction; may change between pins. */
  latencyMs: number;
  /** Every connection accepted since the last reset, in order of acceptance. */
  connections: WireConnection[];
  reset(): void;
  /** Closes every live connection at once, both sides (as when a connection dies while a warm instance idles). */
  drop(): void;
  stop(): Promise<void>;
}

export async function startWireProxy(targetUrl: string): Promise<WireProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const delayed = (write: () => void) => (proxy.latencyMs > 0 ? setTimeout(write, proxy.latencyMs) : write());
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const wire: WireConnection = { sent: [], received: [] };
    proxy.connections.push(wire);
    const fromClient = new FrameCounter((opcode) => isData(opcode) && wire.sent.push(performance.now()));
    const toClient = new FrameCounter((opcode) => isData(opcode) && wire.received.push(performance.now()));
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      delayed(() => upstream.writable && upstream.write(chunk));
    });
    upstream.on('data', (chunk: Buffer) =>
      delayed(() => {
        if (!client.writable) return;
        toClient.push(chunk);
        client.write(chunk);
      }),
    );
    client.on('end', () => delayed(() => upstream.end()));
    upstream.on('end', () => delayed(() => client.end()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const proxy: WireProxy = {
    url: `ws://127.0.0.1:${port}${target.pathname}`,
    latencyMs: 0,
    connections: [],
    reset: () => void (proxy.connections = []),
    drop: () => {
      for (const socket of sockets) socket.destroy();
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
