import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { startWireProxy, type WireProxy } from '../../bench/wire-proxy.js';

let server: WebSocketServer;
let proxy: WireProxy;

beforeAll(async () => {
  // An echo server standing in for the simulator.
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/chat' });
  server.on('connection', (ws) => ws.on('message', (data: Buffer) => ws.send(data)));
  await once(server, 'listening');
  proxy = await startWireProxy(`ws://127.0.0.1:${(server.address() as { port: number }).port}/ws/chat`);
});
afterAll(async () => {
  await proxy.stop();
  await new Promise((resolve) => server.close(resolve));
});

describe('wire proxy', () => {
  it('delays each direction by the latency, pipelined, and notes every data frame each way', async () => {
    // Prepare
    proxy.latencyMs = 40;
    proxy.reset();
    const ws = new WebSocket(proxy.url);
    await once(ws, 'open');
    const echoes: Buffer[] = [];
    const allBack = new Promise<void>((resolve) => ws.on('message', (data: Buffer) => echoes.push(data) === 6 && resolve()));
    // Act
    const started = performance.now();
    ws.send(Buffer.alloc(10, 1));
    ws.send(Buffer.alloc(300, 2)); // 16-bit length
    ws.send(Buffer.alloc(70_000, 3)); // 64-bit length
    for (let i = 0; i < 3; i++) ws.send(Buffer.from([i]));
    await allBack;
    const elapsed = performance.now() - started;
    ws.close();
    // Assess
    expect(echoes.map((data) => data.length)).toEqual([10, 300, 70_000, 1, 1, 1]);
    expect(elapsed).toBeGreaterThanOrEqual(80); // one round trip: 40 ms each way
    expect(proxy.connections).toHaveLength(1);
    expect(proxy.connections[0]!.sent).toHaveLength(6);
    expect(proxy.connections[0]!.received).toHaveLength(6);
    const { sent, received } = proxy.connections[0]!;
    expect(received[0]! - sent[0]!).toBeGreaterThanOrEqual(79);
    expect(received[5]! - received[0]!).toBeLessThan(100); // a burst is not delayed frame after frame (that would be ≥ 200 ms)
  });
});

describe('wire proxy drop', () => {
  it('closes every live connection, as when a warm link dies while idle', async () => {
    // Prepare
    proxy.latencyMs = 0;
    const ws = new WebSocket(proxy.url);
    await once(ws, 'open');
    const closed = once(ws, 'close');
    // Act
    proxy.drop();
    // Assess
    await closed;
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });
});
