/** Loopback HTTP control endpoint (JSON) so other processes can drive a running simulator. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { BufferJSON } from '@whiskeysockets/baileys';
import type { Fault, Simulator } from './index.js';
import { phoneChats, simulatorSnapshot } from './simulator.js';

export interface ControlServer { url: string; close(): Promise<void> }

class HttpError extends Error {
  constructor(readonly status: number, message: string) { super(message) }
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  if (!chunks.length) return {};
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString());
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'body must be a JSON object');
  }
}

const requireString = (body: Record<string, unknown>, field: string): string => {
  const value = body[field];
  if (typeof value !== 'string' || !value) throw new HttpError(400, `"${field}" must be a non-empty string`);
  return value;
};

/** GET /state, POST /faults, POST /phone/pin, POST /phone/archive, POST /phone/scan, GET /chats/:phoneNumber[?jid=…],
 *  POST /accounts, POST /numbers, POST /groups, POST /devices (a linked device's creds and keys, BufferJSON-encoded). */
/** Always bound to 127.0.0.1: the endpoint has no authentication. */
export async function startControlServer(sim: Simulator, options: { port?: number } = {}): Promise<ControlServer> {
  const routes = async (method: string, url: URL, request: IncomingMessage): Promise<unknown> => {
    const route = `${method} ${url.pathname}`;
    if (route === 'GET /state') return simulatorSnapshot(sim);
    if (method === 'GET' && url.pathname.startsWith('/chats/')) {
      const phoneNumber = decodeURIComponent(url.pathname.slice('/chats/'.length));
      const jids = new Set([...phoneChats(sim, phoneNumber), ...url.searchParams.getAll('jid')]);
      const chats = [...jids].map(chatJid => ({ chatJid, ...sim.chatState(phoneNumber, chatJid) }));
      return { phoneNumber, pinned: chats.filter(chat => chat.pinned).map(chat => chat.chatJid), chats };
    }
    if (method !== 'POST') throw new HttpError(404, `no route ${route}`);
    const body = await readJson(request);
    switch (url.pathname) {
      case '/faults':
        if (!Array.isArray(body.faults)) throw new HttpError(400, '"faults" must be an array');
        sim.setFaults(body.faults as Fault[], typeof body.deviceJid === 'string' ? { deviceJid: body.deviceJid } : undefined);
        return { ok: true };
      case '/phone/pin':
        await sim.phone(requireString(body, 'phoneNumber')).setPinned(requireString(body, 'chatJid'), body.pinned !== false);
        return sim.chatState(requireString(body, 'phoneNumber'), requireString(body, 'chatJid'));
      case '/phone/archive':
        await sim.phone(requireString(body, 'phoneNumber')).setArchived(requireString(body, 'chatJid'), body.archived !== false);
        return sim.chatState(requireString(body, 'phoneNumber'), requireString(body, 'chatJid'));
      case '/phone/scan':
        await sim.scanQr(requireString(body, 'qr'), requireString(body, 'phoneNumber'));
        return { ok: true };
      case '/accounts':
        return sim.createAccount({ phoneNumber: body.phoneNumber as string | undefined, lid: body.lid as string | undefined, name: body.name as string | undefined });
      case '/numbers':
        sim.registerNumber(requireString(body, 'phoneNumber'), body.lid as string | undefined);
        return { ok: true };
      case '/groups':
        return { jid: sim.createGroup({ subject: requireString(body, 'subject'), participants: (body.participants as string[]) ?? [], id: body.id as string | undefined }) };
      case '/devices':
        return JSON.parse(JSON.stringify(await sim.linkDevice(requireString(body, 'phoneNumber'), { preKeys: body.preKeys as number | undefined }), BufferJSON.replacer));
      default:
        throw new HttpError(404, `no route ${route}`);
    }
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://control');
    routes(request.method ?? 'GET', url, request)
      .then(body => ({ status: 200, body: body ?? null }))
      .catch((error: Error) => ({ status: error instanceof HttpError ? error.status : 422, body: { error: error.message } }))
      .then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('unexpected control address');
  return {
    url: `http://${address.address}:${address.port}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close(error => (error ? reject(error) : resolve()));
    }),
  };
}
