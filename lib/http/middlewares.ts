import type { MiddlewareObj, Request } from '@middy/core';
import { PayloadTooLargeError, UnauthorizedError } from '../errors.js';
import type { Authenticator } from '../auth/api-credentials.js';
import { logger } from '../observability.js';
import { mapError } from './error-response.js';
import { header, isHttpEvent, type HttpEvent } from './invocation-event.js';

type AnyRequest = Request<unknown, unknown, Error>;

/** Runs a middleware's `before` only for API Gateway events (direct and SQS invocations skip it). */
export function httpOnly(middleware: MiddlewareObj<any, any, any, any>): MiddlewareObj {
  const before = middleware.before;
  return before ? { before: (request) => (isHttpEvent(request.event) ? before(request) : undefined) } : {};
}

/** Basic auth before anything else looks at the request: an unauthenticated caller learns nothing more. */
export const basicAuth = (authenticator: Authenticator): MiddlewareObj => ({
  before: async (request) => {
    const event = request.event as HttpEvent;
    if (!(await authenticator.authenticate(header(event, 'authorization')))) throw new UnauthorizedError();
  },
});

/** Rejects bodies over `limitBytes` (decoded size) before they are parsed. */
export const bodyLimit = (limitBytes: number): MiddlewareObj => ({
  before: (request) => {
    const { body, isBase64Encoded } = request.event as HttpEvent;
    if (typeof body !== 'string') return;
    const bytes = isBase64Encoded ? Math.floor((body.replace(/=+$/, '').length * 3) / 4) : Buffer.byteLength(body, 'utf8');
    if (bytes > limitBytes) throw new PayloadTooLargeError(limitBytes);
  },
});

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/**
 * Shapes every answer: API Gateway events get `{statusCode, headers, body}`; direct invocations get
 * the envelope itself; SQS results pass through. Its `onError` is the one error handler: it maps
 * every error (lib/http/error-response.ts) and logs it, 5xx with details that never reach the body.
 */
export const respond = (): MiddlewareObj => ({
  after: (request: AnyRequest) => {
    if (isHttpEvent(request.event)) {
      request.response = { statusCode: 200, headers: JSON_HEADERS, body: JSON.stringify(request.response) };
    }
  },
  onError: (request: AnyRequest) => {
    const mapped = mapError(request.error);
    if (mapped.statusCode >= 500) logger.error('request failed', { status: mapped.statusCode, error: request.error });
    else logger.info('request rejected', { status: mapped.statusCode, reason: mapped.body.message });
    request.response = isHttpEvent(request.event)
      ? { statusCode: mapped.statusCode, headers: { ...JSON_HEADERS, ...mapped.headers }, body: JSON.stringify(mapped.body) }
      : mapped.body;
  },
});
