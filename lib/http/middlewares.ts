import type { MiddlewareObj, Request } from '@middy/core';
import type { Context } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { AppError, NotLoggedInError, PayloadTooLargeError, UnauthorizedError, WhatsAppRejectedError, WhatsAppTimeoutError } from '../errors.js';
import type { Authenticator } from '../auth/api-credentials.js';
import { logger, metrics } from '../observability.js';
import { mapError } from './error-response.js';
import { header, isHttpEvent, type HttpEvent } from './invocation-event.js';

type AnyRequest = Request<unknown, unknown, Error>;

/** Runs a middleware's `before` only for API Gateway events (direct and SQS invocations skip it). */
export function httpOnly(middleware: MiddlewareObj<any, any, any, any>): MiddlewareObj {
  const before = middleware.before;
  return before ? { before: (request) => (isHttpEvent(request.event) ? before(request) : undefined) } : {};
}

/**
 * Powertools' logMetrics (the ColdStart metric, the stored metrics published once the handler is done), except that
 * an invocation finishing after its response (`later()`: lib/lambda-runtime/after-response.ts publishes them when it
 * is over) does not publish in front of its response: one EMF line per invocation, and none on the caller's time.
 */
export const logMetrics = (later: () => boolean): MiddlewareObj<unknown, unknown, Error, Context> => {
  const publish = () => void (later() || publishStoredMetrics());
  return { before: ({ context }) => metrics.captureColdStartMetric(context.functionName), after: publish, onError: publish };
};

/** Publishes the stored metrics, if any (an empty set would only log Powertools' notice). */
export const publishStoredMetrics = (): void => void (metrics.hasStoredMetrics() && metrics.publishStoredMetrics());

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
 * The level a failed request's log line deserves; ERROR means a person must act:
 * - 4xx, info: the caller's mistake, or a busy device it retries.
 * - 504 (WhatsApp did not answer in time) and 502 (WhatsApp refused this change), warn: transient, the caller or SQS
 *   retries; a lasting rate of them is what the 5xx alarm is for, not one line.
 * - 500 "not logged in" for a device never linked or whose linking never finished, warn: the caller named a device
 *   that has no session, nothing broke.
 * - 500 for a device WhatsApp logged out, or whose app-state key is missing, error: every pin on it fails until a
 *   person links it again (npm run login).
 * - anything unexpected, error.
 */
export function failureLevel(error: unknown, status: number): 'info' | 'warn' | 'error' {
  if (status < 500) return 'info';
  const transient = error instanceof WhatsAppTimeoutError || error instanceof WhatsAppRejectedError || (error instanceof NotLoggedInError && error.reason !== 'logged-out');
  return transient ? 'warn' : 'error';
}

/** What a failure's log line says of it: a typed error its name and message (and its cause's), anything else whole, stack included (the one case a stack helps). */
export function failureFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof AppError)) return { error };
  return { error: `${error.name}: ${error.message}`, ...(error.cause instanceof Error ? { cause: error.cause.message } : {}) };
}

function logFailure(error: Error, status: number, reason: string): void {
  const level = failureLevel(error, status);
  if (level === 'info') logger.info('request rejected', { status, reason });
  else logger[level]('request failed', { status, ...failureFields(error) });
}

/**
 * Shapes every answer: API Gateway events get `{statusCode, headers, body}`; direct invocations get
 * the envelope itself; SQS results pass through. Its `onError` is the one error handler: it maps
 * every error (lib/http/error-response.ts), logs it (logFailure) and counts it (RequestRejected for
 * 4xx, RequestFailed for 5xx: every invocation records a metric, so none publishes an empty set).
 */
export const respond = (): MiddlewareObj => ({
  after: (request: AnyRequest) => {
    if (isHttpEvent(request.event)) {
      request.response = { statusCode: 200, headers: JSON_HEADERS, body: JSON.stringify(request.response) };
    }
  },
  onError: (request: AnyRequest) => {
    const mapped = mapError(request.error);
    logFailure(request.error!, mapped.statusCode, mapped.body.message);
    metrics.addMetric(mapped.statusCode < 500 ? 'RequestRejected' : 'RequestFailed', MetricUnit.Count, 1);
    request.response = isHttpEvent(request.event)
      ? { statusCode: mapped.statusCode, headers: { ...JSON_HEADERS, ...mapped.headers }, body: JSON.stringify(mapped.body) }
      : mapped.body;
  },
});
