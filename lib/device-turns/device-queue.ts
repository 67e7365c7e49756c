/**
 * The device's queue of waiting requests, on its lease item in the sessions table (one item per device:
 * every operation is one conditional request on it). Callers that find the lease held queue their request
 * and wait; the lease holder claims, serves and answers them.
 *
 * Item: `queue.<request id>` = { c: chat, p: pinned, at: queued (ms), until: withdrawn after (ms),
 * claim?: batch id, out?: outcome (JSON) }; `batches.<batch id>` = { by: holder, base: collection version,
 * m: mutations (JSON [chat, pinned, timestamp]), d: decisions (JSON) }; `seq`: requests queued so far.
 */
import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeviceBusyError, LeaseLostError } from '../errors.js';
import type { PinRequest } from '../pin/whatsapp-port.js';
import { acquireLeaseItem, errorName, LEASE_SK, N, retryAfterSeconds, S, type Item } from '../session/lease-item.js';
import type { Lease } from '../session/session-store.js';

/** A queued request as the device sees it. */
export interface QueuedRequest extends PinRequest {
  /** Epoch ms it was queued (arrival order). */
  at: number;
  /** Epoch ms after which its caller withdraws it (the holder must not claim it later). */
  until: number;
  /** The batch that claimed it. */
  claim?: string;
  /** Its outcome, once served (see ./turn-outcome.ts). */
  out?: string;
}

/** What a holder wrote before uploading a batch: enough for a successor to tell whether it landed. */
export interface BatchRecord {
  id: string;
  /** The holder that claimed it. */
  by: string;
  /** The collection version the upload was built on. */
  base: number;
  /** The pin mutations uploaded: chat, pinned, timestamp. */
  mutations: Array<[string, boolean, number]>;
  /** Request id → decision (as ./turn-outcome.ts encodes it). */
  decisions: Record<string, string>;
}

export interface DeviceQueueView {
  /** The holder, while its lease runs. */
  holder?: { owner: string; expiresAt: number };
  seq: number;
  requests: QueuedRequest[];
  batches: BatchRecord[];
}

/** Most requests a device queues; beyond, a caller is answered busy at once. */
export const MAX_QUEUED = 200;

const M = (value: Record<string, unknown>) => ({ M: value }) as Item[string];
const key = (deviceId: string) => ({ pk: S(deviceId), sk: S(LEASE_SK) });

function viewOf(item: Item | undefined, now: number): DeviceQueueView {
  const owner = item?.owner?.S;
  const expiresAt = Number(item?.expiresAt?.N ?? 0);
  const requests = Object.entries(item?.queue?.M ?? {}).map(([id, value]): QueuedRequest => {
    const entry = value.M ?? {};
    return {
      id,
      chatJid: entry.c?.S ?? '',
      pinned: entry.p?.BOOL ?? false,
      at: Number(entry.at?.N ?? 0),
      until: Number(entry.until?.N ?? 0),
      ...(entry.claim?.S && { claim: entry.claim.S }),
      ...(entry.out?.S && { out: entry.out.S }),
    };
  });
  const batches = Object.entries(item?.batches?.M ?? {}).map(([id, value]): BatchRecord => {
    const record = value.M ?? {};
    return { id, by: record.by?.S ?? '', base: Number(record.base?.N ?? 0), mutations: JSON.parse(record.m?.S ?? '[]'), decisions: JSON.parse(record.d?.S ?? '{}') };
  });
  return {
    holder: owner && expiresAt > now ? { owner, expiresAt } : undefined,
    seq: Number(item?.seq?.N ?? 0),
    requests: requests.sort((a, b) => a.at - b.at || a.id.localeCompare(b.id)),
    batches,
  };
}

/** Names `#r0…` and values for a set of request ids (map keys are arbitrary strings). */
function names(ids: string[], prefix: string): Record<string, string> {
  return Object.fromEntries(ids.map((id, i) => [`#${prefix}${i}`, id]));
}

export class DeviceQueue {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Takes the device's lease (DeviceBusyError when held) and returns it with the queue as it stands. */
  async acquire(deviceId: string, owner: string, ttlSeconds: number): Promise<{ lease: Lease; view: DeviceQueueView }> {
    const now = this.now();
    const { lease, item } = await acquireLeaseItem(this.client, this.tableName, deviceId, owner, ttlSeconds, now);
    return { lease, view: viewOf(item, now) };
  }

  /**
   * Queues a request behind the live holder. 'free': there is no live holder (take the lease instead);
   * DeviceBusyError when the queue is full.
   */
  async enqueue(deviceId: string, request: QueuedRequest): Promise<'queued' | 'free'> {
    const now = this.now();
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(deviceId),
          UpdateExpression: 'SET #queue.#r = :request ADD seq :one',
          ConditionExpression: 'attribute_exists(#queue) AND attribute_exists(#owner) AND expiresAt > :now AND size(#queue) < :max',
          ExpressionAttributeNames: { '#queue': 'queue', '#owner': 'owner', '#r': request.id },
          ExpressionAttributeValues: {
            ':request': M({ c: S(request.chatJid), p: { BOOL: request.pinned }, at: N(request.at), until: N(request.until) }),
            ':one': N(1),
            ':now': N(now),
            ':max': N(MAX_QUEUED),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'queued';
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      const item = (error as { Item?: Item }).Item;
      const view = viewOf(item, now);
      if (!view.holder || !item?.queue) return 'free';
      throw new DeviceBusyError(deviceId, retryAfterSeconds(item, now), { cause: error });
    }
  }

  /** The queue, its batches and the holder, as they are now (one consistent read). */
  async read(deviceId: string): Promise<DeviceQueueView> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key(deviceId), ConsistentRead: true }));
    return viewOf(Item, this.now());
  }

  /** A waiting caller's request and the holder (one consistent read of the lease item). */
  async poll(deviceId: string, requestId: string): Promise<{ holder?: DeviceQueueView['holder']; request?: QueuedRequest; retryAfter: number }> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: key(deviceId),
        ConsistentRead: true,
        ProjectionExpression: '#owner, expiresAt, #queue.#r',
        ExpressionAttributeNames: { '#owner': 'owner', '#queue': 'queue', '#r': requestId },
      }),
    );
    const now = this.now();
    const view = viewOf(Item, now);
    return { holder: view.holder, request: view.requests[0], retryAfter: retryAfterSeconds(Item, now) };
  }

  /** Withdraws a request nobody claimed: false when it was claimed (it may be served: wait for its outcome). */
  async withdraw(deviceId: string, requestId: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(deviceId),
          UpdateExpression: 'REMOVE #queue.#r',
          ConditionExpression: 'attribute_exists(#queue.#r) AND attribute_not_exists(#queue.#r.claim) AND attribute_not_exists(#queue.#r.#out)',
          ExpressionAttributeNames: { '#queue': 'queue', '#r': requestId, '#out': 'out' },
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Removes an answered request (its caller read the outcome). */
  async remove(deviceId: string, requestId: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(deviceId),
        UpdateExpression: 'REMOVE #queue.#r',
        ExpressionAttributeNames: { '#queue': 'queue', '#r': requestId },
      }),
    );
  }

  /**
   * Claims the batch's requests for the holder (they can no longer be withdrawn) and records what it is
   * about to upload. False when one of them was withdrawn meanwhile (nothing written: plan again).
   * Extends the lease to `expiresAt`.
   */
  async claim(lease: Lease, batch: BatchRecord, requestIds: string[], expiresAt: number): Promise<boolean> {
    const requests = names(requestIds, 'r');
    const refs = Object.keys(requests);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(lease.deviceId),
          UpdateExpression: `SET batches.#b = :batch, expiresAt = :expiresAt${refs.map((ref) => `, #queue.${ref}.claim = :id`).join('')}`,
          ConditionExpression: ['#owner = :owner', ...refs.map((ref) => `attribute_exists(#queue.${ref}) AND (attribute_not_exists(#queue.${ref}.claim) OR #queue.${ref}.claim = :id)`)].join(' AND '),
          ExpressionAttributeNames: { '#owner': 'owner', '#queue': 'queue', '#b': batch.id, ...requests },
          ExpressionAttributeValues: {
            ':owner': S(lease.owner),
            ':id': S(batch.id),
            ':expiresAt': N(expiresAt),
            ':batch': M({ by: S(batch.by), base: N(batch.base), m: S(JSON.stringify(batch.mutations)), d: S(JSON.stringify(batch.decisions)) }),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      if ((error as { Item?: Item }).Item?.owner?.S !== lease.owner) throw new LeaseLostError(`lease on device ${lease.deviceId} lost`, { cause: error });
      return false;
    }
  }

  /**
   * Under the lease (which it extends to `expiresAt`): writes outcomes for their waiting callers, returns
   * requests of a batch that never landed to the queue (`unclaim`), forgets batch records, and removes
   * requests nobody will read (`remove`: answered long ago, or the holder's own). Requests withdrawn
   * meanwhile are left out (read again). LeaseLostError when the lease is not ours.
   */
  async answer(lease: Lease, changes: { outcomes?: Map<string, string>; unclaim?: string[]; forget?: string[]; remove?: string[] }, expiresAt: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const outcomes = [...(changes.outcomes ?? [])];
      const answered = names(outcomes.map(([id]) => id), 'o');
      const unclaimed = names(changes.unclaim ?? [], 'u');
      const batches = names(changes.forget ?? [], 'b');
      const removed = names(changes.remove ?? [], 'x');
      const set = ['expiresAt = :expiresAt', ...Object.keys(answered).map((ref, i) => `#queue.${ref}.#out = :o${i}`)];
      const remove = [...Object.keys(unclaimed).map((ref) => `#queue.${ref}.claim`), ...Object.keys(batches).map((ref) => `batches.${ref}`), ...Object.keys(removed).map((ref) => `#queue.${ref}`)];
      const present = [...Object.keys(answered), ...Object.keys(unclaimed)].map((ref) => `attribute_exists(#queue.${ref})`);
      const queuePaths = present.length || Object.keys(removed).length;
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: key(lease.deviceId),
            UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
            ConditionExpression: ['#owner = :owner', ...present].join(' AND '),
            ExpressionAttributeNames: { '#owner': 'owner', ...(queuePaths && { '#queue': 'queue' }), ...(outcomes.length && { '#out': 'out' }), ...answered, ...unclaimed, ...batches, ...removed },
            ExpressionAttributeValues: { ':owner': S(lease.owner), ':expiresAt': N(expiresAt), ...Object.fromEntries(outcomes.map(([, outcome], i) => [`:o${i}`, S(outcome)])) },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return;
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
        const item = (error as { Item?: Item }).Item;
        if (item?.owner?.S !== lease.owner || attempt > 0) throw new LeaseLostError(`lease on device ${lease.deviceId} lost`, { cause: error });
        // A caller withdrew (or removed) its request meanwhile: answer the others.
        const queued = new Set(Object.keys(item.queue?.M ?? {}));
        changes = {
          ...changes,
          outcomes: new Map(outcomes.filter(([id]) => queued.has(id))),
          unclaim: changes.unclaim?.filter((id) => queued.has(id)),
          remove: changes.remove?.filter((id) => queued.has(id)),
        };
      }
    }
  }
}
