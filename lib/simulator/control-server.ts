/** Loopback HTTP control endpoint (JSON) so other processes can drive a running simulator. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { BufferJSON } from '@whiskeysockets/baileys';
import type { Fault, MediaFault, PhoneChange, SeedAppStateOptions, Simulator } from './index.js';
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
 *  POST /accounts, POST /numbers, POST /groups, POST /devices (a linked device's creds and keys, BufferJSON-encoded),
 *  POST /phone/mutate, POST /phone/rotate-key, POST /phone/compact, POST /phone/pin-limit, POST /seed,
 *  GET /pinned/:phoneNumber, POST /contact-messages, GET /offline-queue/:deviceJid, POST /media-faults. */
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
    if (method === 'GET' && url.pathname.startsWith('/pinned/')) {
      const phoneNumber = decodeURIComponent(url.pathname.slice('/pinned/'.length));
      return { phoneNumber, pinned: sim.pinnedChats(phoneNumber) };
    }
    if (method === 'GET' && url.pathname.startsWith('/offline-queue/')) return sim.offlineQueue(decodeURIComponent(url.pathname.slice('/offline-queue/'.length)));
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
      case '/phone/mutate': {
        if (!Array.isArray(body.changes) || !body.changes.length) throw new HttpError(400, '"changes" must be a non-empty array');
        const phoneNumber = requireString(body, 'phoneNumber');
        await sim.phone(phoneNumber).mutate(body.changes as PhoneChange[]);
        return { version: sim.appStateVersion(phoneNumber, 'regular_low'), pinned: sim.pinnedChats(phoneNumber) };
      }
      case '/phone/rotate-key':
        return sim.phone(requireString(body, 'phoneNumber')).rotateAppStateKey();
      case '/phone/compact':
        return sim.phone(requireString(body, 'phoneNumber')).compact();
      case '/phone/pin-limit': {
        const phone = sim.phone(requireString(body, 'phoneNumber'));
        if (body.pinLimit !== null && (typeof body.pinLimit !== 'number' || body.pinLimit < 0)) throw new HttpError(400, '"pinLimit" must be a number ≥ 0 or null (no limit)');
        phone.pinLimit = body.pinLimit ?? undefined;
        if (typeof body.delayMs === 'number') phone.pinLimitDelayMs = body.delayMs;
        return { pinLimit: phone.pinLimit ?? null, delayMs: phone.pinLimitDelayMs };
      }
      case '/seed': {
        if (typeof body.entries !== 'number') throw new HttpError(400, '"entries" must be a number');
        const { phoneNumber: _phone, ...options } = body;
        const seeded = await sim.seedAppState(requireString(body, 'phoneNumber'), options as unknown as SeedAppStateOptions);
        return { ...seeded, chats: seeded.chats.length };
      }
      case '/contact-messages':
        return sim.queueContactMessages(requireString(body, 'deviceJid'), {
          senders: Number(body.senders ?? 1), messages: Number(body.messages ?? 1),
          ...(typeof body.appStateKeyShareAt === 'number' && { appStateKeyShareAt: body.appStateKeyShareAt }),
        });
      case '/media-faults':
        if (!Array.isArray(body.faults)) throw new HttpError(400, '"faults" must be an array');
        sim.setMediaFaults(body.faults as MediaFault[]);
        return { ok: true };
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
