/**
 * The device's lease item (`sk = lease`), shared by the session store (fences, session version) and the
 * device's turn-taking (owner, queue: lib/device-turns/). Acquiring it is one conditional update.
 */
import { UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeviceBusyError } from '../errors.js';
import type { Lease } from './session-store.js';

export type Item = Record<string, AttributeValue>;

export const LEASE_SK = 'lease';
/** Lease items (which carry the session version) vanish this long after their last use. */
const LEASE_ITEM_RETENTION_SECONDS = 7 * 24 * 3600;

export const S = (value: string): AttributeValue => ({ S: value });
export const N = (value: number): AttributeValue => ({ N: String(value) });
export const errorName = (error: unknown) => (error as { name?: string } | undefined)?.name;

/** The item's TTL attribute (epoch s): retention after `epochMs`. */
export const leaseTtl = (epochMs: number): number => Math.ceil(epochMs / 1000) + LEASE_ITEM_RETENTION_SECONDS;

/**
 * Takes the lease (free, expired, or already ours) and returns it with the whole item as it now is; the
 * queue and its batches maps exist from then on. DeviceBusyError (retry after the holder's expiry) otherwise.
 */
export async function acquireLeaseItem(client: DynamoDBClient, tableName: string, deviceId: string, owner: string, ttlSeconds: number, now: number): Promise<{ lease: Lease; item: Item }> {
  const expiresAt = now + ttlSeconds * 1000;
  try {
    const { Attributes = {} } = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: S(deviceId), sk: S(LEASE_SK) },
        UpdateExpression: 'SET #owner = :owner, expiresAt = :expiresAt, acquiredAt = :now, #ttl = :ttl, #queue = if_not_exists(#queue, :empty), batches = if_not_exists(batches, :empty)',
        ConditionExpression: 'attribute_not_exists(#owner) OR expiresAt <= :now OR #owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner', '#ttl': 'ttl', '#queue': 'queue' },
        ExpressionAttributeValues: { ':owner': S(owner), ':expiresAt': N(expiresAt), ':now': N(now), ':ttl': N(leaseTtl(expiresAt)), ':empty': { M: {} } },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { lease: { deviceId, owner, expiresAt, sessionVersion: Attributes.sessionVersion?.S, seq: Number(Attributes.seq?.N ?? 0) }, item: Attributes };
  } catch (error) {
    if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
    throw new DeviceBusyError(deviceId, retryAfterSeconds((error as { Item?: Item }).Item, now), { cause: error });
  }
}

/** Seconds until the holder's lease expires (at least 1). */
export const retryAfterSeconds = (item: Item | undefined, now: number): number => Math.max(1, Math.ceil((Number(item?.expiresAt?.N ?? now) - now) / 1000));
