import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';
import type { DirectPinEvent, EventBridgePinEvent } from '../../lib/http/invocation-event.js';
import { localContext } from '../../lib/local/api-gateway-adapter.js';

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

/** A Lambda context as the runtime passes it, with `remainingMs` left (the local runner's builder). */
export const lambdaContext = (remainingMs = 30_000, awsRequestId?: string): Context => localContext(awsRequestId, remainingMs);
