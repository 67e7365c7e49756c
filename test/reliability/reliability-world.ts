import { randomUUID } from 'node:crypto';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { PinLimitError } from '../../lib/errors.js';
import { mapError } from '../../lib/http/error-response.js';
import { pinPolicy } from '../../lib/pin/pin-policy.js';
import type { PinChatCommand, WhatsAppPort } from '../../lib/pin/whatsapp-port.js';
import { createWhatsAppPort } from '../../lib/whatsapp/create-whatsapp-port.js';
import type { World } from '../support/simulated-world.js';

/** A DynamoDB failure injected at the SDK edge: which command (and which of its inputs) fails, and how. */
export interface DynamoFault {
  command: string;
  when?: (input: Record<string, unknown>) => boolean;
  error: () => Error;
  /** How many requests fail (every SDK attempt counts); unlimited when absent. */
  times?: number;
}

/**
 * A DynamoDBClient whose requests can be failed on purpose. The middleware sits inside the SDK's retry
 * loop, in place of the HTTP request: a retryable error is retried by the SDK as a real one would be.
 */
export function faultyDynamoClient() {
  const client = new DynamoDBClient({});
  let faults: DynamoFault[] = [];
  let injected = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const fault = faults.find((f) => f.command === context.commandName && (f.when?.(args.input as Record<string, unknown>) ?? true) && (f.times ?? 1) > 0);
      if (fault) {
        if (fault.times !== undefined) fault.times--;
        injected++;
        throw fault.error();
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'reliabilityFaults' },
  );
  return {
    client,
    set: (list: DynamoFault[]) => void (faults = list),
    clear: () => void (faults = []),
    injected: () => injected,
  };
}

const serviceError = (name: string, status: number, fault: 'client' | 'server') => () =>
  new DynamoDBServiceException({ name, message: `injected ${name}`, $fault: fault, $metadata: { httpStatusCode: status } });
export const throttled = serviceError('ProvisionedThroughputExceededException', 400, 'client');
export const internalError = serviceError('InternalServerError', 500, 'server');

/** The final commit: the transaction that releases the lease. */
export const isCommit = (input: Record<string, unknown>) =>
  JSON.stringify((input.TransactItems as unknown[] | undefined)?.at(-1) ?? {}).includes('REMOVE #owner');

/** A WhatsApp port as production wires it (lib/whatsapp/create-whatsapp-port.ts), on its own DynamoDB client. */
export function newPort(world: World, options: { leaseSeconds?: number; client?: DynamoDBClient; finishAfterResponse?: (rest: Promise<unknown>) => boolean } = {}): WhatsAppPort {
  return createWhatsAppPort(
    {
      sessionTable: world.table,
      apiCredentialsSecretId: 'unused',
      defaultDeviceId: 'default',
      whatsappWsUrl: world.sim.url,
      whatsappMediaUrl: world.sim.mediaUrl,
      maxPinnedChats: 3,
      checkChatExists: true,
      pinTimeoutMs: 20_000,
      leaseSeconds: options.leaseSeconds ?? 30,
      deadLetterQueueUrl: undefined,
      stage: undefined,
    },
    options.client ?? new DynamoDBClient({}),
    options.finishAfterResponse,
  );
}

/** Ends the connections a warm port keeps, if it keeps any. */
export async function closePort(port: WhatsAppPort): Promise<void> {
  await (port as { close?: () => Promise<void> }).close?.();
}

export interface Outcome {
  status: number;
  retryAfter?: string;
  error?: string;
  startedAt: number;
  endedAt: number;
  pinned: boolean;
}

/** One pin call answered as the handler would (lib/http/error-response.ts maps every error); the pin cap off unless `maxPinned`. */
export async function pinCall(port: WhatsAppPort, command: PinChatCommand, deadlineMs = 15_000, maxPinned = 0): Promise<Outcome> {
  const startedAt = Date.now();
  try {
    const decision = await port.setChatPinned(command, { deadline: startedAt + deadlineMs, invocationId: randomUUID() }, pinPolicy(maxPinned));
    if (decision === 'limit') throw new PinLimitError(command.chatJid, maxPinned);
    return { status: 200, startedAt, endedAt: Date.now(), pinned: command.pinned };
  } catch (error) {
    const mapped = mapError(error);
    return { status: mapped.statusCode, retryAfter: mapped.headers?.['Retry-After'], error: (error as Error).name, startedAt, endedAt: Date.now(), pinned: command.pinned };
  }
}

/** The pin collection's version as stored for a device, and as the server has it for the world's account. */
export async function versions(world: World, deviceId: string, phoneNumber = world.account.phoneNumber) {
  const stored = (await world.store.load(deviceId)).keys['app-state-meta']?.regular_low?.version ?? 0;
  return { stored, server: world.sim.appStateVersion(phoneNumber, 'regular_low') };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
