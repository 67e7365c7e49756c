import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, SQSEvent } from 'aws-lambda';

/** A direct invocation (Lambda Invoke, EventBridge target): the pin request as a JSON object. */
export interface DirectPinEvent {
  chat_jid?: unknown;
  pinned?: unknown;
  device_id?: unknown;
}

/** An EventBridge event delivered whole to the function: the request is its `detail`. */
export interface EventBridgePinEvent {
  'detail-type': string;
  source: string;
  detail: DirectPinEvent;
}

export type HttpEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;
export type InvocationEvent = HttpEvent | SQSEvent | DirectPinEvent | EventBridgePinEvent;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function isHttpEvent(event: unknown): event is HttpEvent {
  if (!isObject(event) || !isObject(event.requestContext)) return false;
  return typeof event.httpMethod === 'string' || (event.version === '2.0' && isObject(event.requestContext.http));
}

export function isSqsEvent(event: unknown): event is SQSEvent {
  return isObject(event) && Array.isArray(event.Records) && isObject(event.Records[0]) && event.Records[0].eventSource === 'aws:sqs';
}

export function isEventBridgeEvent(event: unknown): event is EventBridgePinEvent {
  return isObject(event) && typeof event['detail-type'] === 'string' && isObject(event.detail);
}

/** A header's value (after @middy/http-header-normalizer lower-cased the names). */
export const header = (event: HttpEvent, name: string): string | undefined => event.headers?.[name] ?? undefined;
