import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { SqsFifoMessageGroupShortCircuitError, SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context, SQSRecord } from 'aws-lambda';
import { loadConfig } from '../lib/config.js';
import { ValidationError } from '../lib/errors.js';
import { SecretsManagerAuthenticator } from '../lib/auth/api-credentials.js';
import { basicAuth, bodyLimit, failureFields, failureLevel, httpOnly, logMetrics, publishStoredMetrics, respond } from '../lib/http/middlewares.js';
import { isClientError, mapError, type Envelope } from '../lib/http/error-response.js';
import { header, isEventBridgeEvent, isHttpEvent, isObject, isSqsEvent, type InvocationEvent } from '../lib/http/invocation-event.js';
import { logger, metrics, tracer } from '../lib/observability.js';
import { PinChat, type PinChatInput, type PinChatResult } from '../lib/pin/pin-chat.js';
import { AfterResponse } from '../lib/lambda-runtime/after-response.js';
import { DeadLetterQueue } from '../lib/queue/dead-letter-queue.js';
import { createWhatsAppPort } from '../lib/whatsapp/create-whatsapp-port.js';

const MAX_BODY_BYTES = 16 * 1024;
const DEADLINE_MARGIN_MS = 1_000;

const config = loadConfig();
// In Lambda a pin is answered once WhatsApp accepted it; the commit and the lease's release finish after the response.
const afterResponse = new AfterResponse(config.finishAfterResponse === false ? undefined : config.lambdaRuntimeApi, publishStoredMetrics);
const pinChat = new PinChat(createWhatsAppPort(config, undefined, (rest) => afterResponse.keep(rest)), config.defaultDeviceId, config.maxPinnedChats);
const authenticator = new SecretsManagerAuthenticator(
  config.apiCredentialsSecretId,
  new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) }),
);
// Read at the cold start, so that the first request's basic auth does not wait for Secrets Manager.
authenticator.prefetch();
const deadLetters = config.deadLetterQueueUrl ? new DeadLetterQueue(config.deadLetterQueueUrl) : undefined;
if (config.stage) metrics.setDefaultDimensions({ stage: config.stage });
await afterResponse.register(); // registrations are accepted during the cold start only

/** Percent-decodes once (API Gateway may hand over `%40`); a value that does not decode is kept as is and fails validation. */
function decoded(value: string | undefined): string | undefined {
  if (value === undefined || !value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The request as sent, whatever the invocation source. */
function toInput(event: InvocationEvent): PinChatInput {
  if (isHttpEvent(event)) {
    if (!isObject(event.body)) throw new ValidationError('body: must be a JSON object');
    return {
      chatJid: decoded(event.pathParameters?.chat_jid),
      pinned: event.body.pinned,
      deviceId: decoded(header(event, 'x-device-id')) ?? decoded(event.queryStringParameters?.device_id),
    };
  }
  const request = isEventBridgeEvent(event) ? event.detail : event;
  if (!isObject(request)) throw new ValidationError('event: must be a JSON object');
  return { chatJid: request.chat_jid, pinned: request.pinned, deviceId: request.device_id };
}

function envelope(result: PinChatResult): Envelope<PinChatResult> {
  return { code: 'SUCCESS', message: result.message, results: result };
}

async function pin(input: PinChatInput, context: Context, invocationId: string) {
  const command = pinChat.parse(input);
  logger.appendKeys({ deviceId: command.deviceId, chatJid: command.chatJid, pinned: command.pinned });
  const deadline = Date.now() + Math.min(config.pinTimeoutMs, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS);
  return envelope(await pinChat.execute(command, { deadline, invocationId }));
}

/** Parses an SQS record's body: a direct pin request. */
function recordInput(record: SQSRecord): PinChatInput {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    throw new ValidationError('body: invalid JSON', { cause: error });
  }
  if (!isObject(body)) throw new ValidationError('body: must be a JSON object');
  return { chatJid: body.chat_jid, pinned: body.pinned, deviceId: body.device_id };
}

/**
 * SQS (FIFO, one message group per device). A failed record is logged once, with its own keys only. A
 * client error goes to the dead-letter queue at once (retrying cannot help); any other failure is
 * reported back and retried, up to the queue's redrive policy.
 */
async function pinRecord(record: SQSRecord, context: Context) {
  logger.appendKeys({ messageId: record.messageId, messageGroupId: record.attributes.MessageGroupId });
  try {
    return await pin(recordInput(record), context, `${context.awsRequestId}:${record.messageId}`);
  } catch (error) {
    const { statusCode, body } = mapError(error);
    const deadLetter =
      deadLetters && isClientError(error)
        ? await deadLetters.send(record, body.message).then(
            () => ({ deadLettered: true }),
            (deadLetterError: unknown) => ({ deadLettered: false, deadLetterError }),
          )
        : undefined;
    logger[failureLevel(error, statusCode)]('sqs record failed', {
      status: statusCode,
      reason: body.message,
      ...(statusCode >= 500 && failureFields(error)),
      ...deadLetter,
    });
    if (!deadLetter?.deadLettered) throw error;
    return undefined;
  } finally {
    logger.resetKeys();
  }
}

export const handler = middy<InvocationEvent, unknown, Error, Context>()
  .use(afterResponse.middleware())
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(() => afterResponse.keeping))
  .use(respond())
  .use(httpOnly(httpHeaderNormalizer()))
  .use(httpOnly(basicAuth(authenticator)))
  .use(httpOnly(bodyLimit(MAX_BODY_BYTES)))
  .use(httpOnly(httpJsonBodyParser()))
  .handler(async (event, context) => {
    if (isSqsEvent(event)) {
      const processor = new SqsFifoPartialProcessorAsync();
      const response = await processPartialResponse(event, (record: SQSRecord) => pinRecord(record, context), processor, {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      });
      // Records after a failure in their message group are not tried (order per device): they fail too.
      processor.failureMessages.forEach((record, i) => {
        if (!(processor.errors[i] instanceof SqsFifoMessageGroupShortCircuitError)) return;
        const { messageId, attributes } = record as SQSRecord;
        logger.warn('sqs record failed', { messageId, messageGroupId: attributes.MessageGroupId, reason: 'not tried: an earlier record of its message group failed' });
      });
      return response;
    }
    return pin(toInput(event), context, context.awsRequestId);
  });
