/**
 * A loopback stand-in for the extension part of Lambda's runtime API (AWS_LAMBDA_RUNTIME_API), for the bench and the
 * tests: extensions register, then ask for the next event (`event/next`), which blocks until an invocation starts; an
 * extension is done with an invocation when it asks again, and only then would Lambda freeze the environment.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

interface Extension {
  name: string;
  events: string[];
  /** Its `event/next` request, parked until an invocation starts. */
  parked?: ServerResponse;
  /** An invocation started while it was not waiting. */
  queued?: string;
  /** An invocation was delivered to it: its next ask ends that invocation for it (`done`). */
  delivered?: boolean;
  done?: () => void;
}

export interface LocalExtensionsApi {
  /** host:port, as AWS_LAMBDA_RUNTIME_API. */
  address: string;
  /** Registered extensions, in order. */
  registrations(): Array<{ name: string; events: string[] }>;
  /**
   * Starts an invocation for every registered extension; resolves (performance.now()) once each of them asked for
   * the next event again: the invocation is over for them.
   */
  invoke(requestId: string, deadlineMs: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startLocalExtensionsApi(): Promise<LocalExtensionsApi> {
  const extensions = new Map<string, Extension>();
  const deliver = (extension: Extension, event: string, response: ServerResponse) => {
    extension.parked = undefined;
    extension.queued = undefined;
    extension.delivered = true;
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(event);
  };
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const path = request.url ?? '';
      if (request.method === 'POST' && path === '/2020-01-01/extension/register') {
        const name = request.headers['lambda-extension-name'];
        const events = (JSON.parse(body || '{}') as { events?: string[] }).events ?? [];
        if (typeof name !== 'string' || !events.length) return void response.writeHead(400).end('{"errorType":"InvalidRequest"}');
        const id = randomUUID();
        extensions.set(id, { name, events });
        return void response.writeHead(200, { 'Lambda-Extension-Identifier': id, 'Content-Type': 'application/json' }).end('{"functionName":"local","functionVersion":"$LATEST","handler":"index.handler"}');
      }
      const id = String(request.headers['lambda-extension-identifier']);
      const extension = extensions.get(id);
      if (request.method !== 'GET' || path !== '/2020-01-01/extension/event/next' || !extension) return void response.writeHead(403).end('{"errorType":"Extension.Forbidden"}');
      if (extension.delivered) {
        extension.delivered = false;
        extension.done?.();
      }
      if (extension.queued) return deliver(extension, extension.queued, response);
      extension.parked = response;
      // Its process ended (a cold start's environment gone): it takes part in no later invocation.
      response.on('close', () => {
        if (extension.parked !== response) return;
        extensions.delete(id);
        extension.done?.();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    registrations: () => [...extensions.values()].map(({ name, events }) => ({ name, events })),
    invoke: async (requestId, deadlineMs) => {
      const event = JSON.stringify({ eventType: 'INVOKE', requestId, deadlineMs, invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:local' });
      await Promise.all(
        [...extensions.values()].map(
          (extension) =>
            new Promise<void>((resolve) => {
              extension.done = resolve;
              if (extension.parked) deliver(extension, event, extension.parked);
              else extension.queued = event;
            }),
        ),
      );
      return performance.now();
    },
    stop: () => {
      // As when Lambda shuts an environment down: the extensions waiting for an event get SHUTDOWN and end.
      for (const extension of extensions.values()) if (extension.parked) deliver(extension, '{"eventType":"SHUTDOWN","shutdownReason":"spindown"}', extension.parked);
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
