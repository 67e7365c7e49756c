import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';
import type { DirectPinEvent, EventBridgePinEvent } from '../../lib/http/invocation-event.js';

/** The sample events under events/<source>/<case>.json, by source. */
export interface EventsBySource {
  'api-gateway-v1': APIGatewayProxyEvent;
  'api-gateway-v2': APIGatewayProxyEventV2;
  direct: DirectPinEvent;
  eventbridge: EventBridgePinEvent;
  sqs: SQSEvent;
}

const root = new URL('../../events/', import.meta.url);

/** A fresh copy of a sample event (handlers mutate events). */
export function loadEvent<S extends keyof EventsBySource>(source: S, name: string): EventsBySource[S] {
  return JSON.parse(readFileSync(new URL(`${source}/${name}.json`, root), 'utf8')) as EventsBySource[S];
}

/** The API credentials the sample events carry (`gowa:pin-test-password`). */
export const SAMPLE_BASIC_AUTH = 'gowa:pin-test-password';

/** A Lambda context as the runtime passes it, with `remainingMs` left. */
export function lambdaContext(remainingMs = 30_000, awsRequestId = `req-${Math.random().toString(36).slice(2)}`): Context {
  const end = Date.now() + remainingMs;
  return {
    awsRequestId,
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'pin-chat',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:pin-chat',
    memoryLimitInMB: '1024',
    logGroupName: '/aws/lambda/pin-chat',
    logStreamName: '2026/11/26/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => end - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
