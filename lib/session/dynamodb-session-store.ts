import { randomUUID } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { AuthenticationCreds } from '@whiskeysockets/baileys';
import { proto } from '@whiskeysockets/baileys/WAProto/index.js';
import { LeaseLostError } from '../errors.js';
import { BufferJSON } from './buffer-json.js';
import { isHotKey, ownUserOf, type DeviceSummary, type KeyChanges, type KeyType, type Lease, type SessionSnapshot, type SessionState, type SessionStore, type StoredDataTypeMap, QueueGrewError } from './session-store.js';
import { acquireLeaseItem, leaseTtl, LEASE_SK, N, S, errorName, type Item } from './lease-item.js';

type Op = { item: TransactWriteItem; bytes: number };

const CREDS_SK = 'h#creds';
/** Values whose JSON is longer are stored deflated (binary). */
const COMPRESS_FROM_BYTES = 8 * 1024;
/** Compressed values are split into items of at most this many bytes (DynamoDB's item limit is 400 KB). */
const PART_BYTES = 350_000;
/** TransactWriteItems limits: 100 items and 4 MB per request (one slot is kept for the lease fence). */
const MAX_TX_ITEMS = 100;
const MAX_TX_BYTES = 3_500_000;
const BATCH_GET_MAX = 100;
const BATCH_WRITE_MAX = 25;
/** Bulk writes in flight at once (a full sync writes one item per app-state entry). */
const BATCH_WRITE_PARALLEL = 8;
const MAX_ATTEMPTS = 8;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (attempt: number) => sleep(Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2));

/** Sort key of a key's item (part 0) or of one of its further parts; hot keys share the creds' `h#` prefix. */
function keySortKey(type: KeyType, id: string, ownUser: string | undefined, part = 0): string {
  return `${isHotKey(type, id, ownUser) ? 'h' : 'k'}#${type}#${id}${part ? `#part#${part}` : ''}`;
}

function stateOf(creds: AuthenticationCreds): SessionState {
  return creds.me?.id ? 'linked' : 'linking';
}

function reviveKey<T extends KeyType>(type: T, json: string): StoredDataTypeMap[T] {
  const value = JSON.parse(json, BufferJSON.reviver);
  return type === 'app-state-sync-key' ? (proto.Message.AppStateSyncKeyData.fromObject(value) as unknown as StoredDataTypeMap[T]) : value;
}

/** The items of one key: inline JSON, or deflated JSON split across parts (part 0 holds the count `n`). */
function encodeKey(deviceId: string, type: KeyType, id: string, value: unknown, ownUser: string | undefined): Item[] {
  const json = JSON.stringify(value, BufferJSON.replacer);
  const base = { pk: S(deviceId), t: S(type), i: S(id) };
  if (Buffer.byteLength(json) <= COMPRESS_FROM_BYTES) return [{ ...base, sk: S(keySortKey(type, id, ownUser)), v: S(json) }];
  const packed = deflateSync(json);
  const count = Math.max(1, Math.ceil(packed.length / PART_BYTES));
  return Array.from({ length: count }, (_, part) => ({
    ...base,
    sk: S(keySortKey(type, id, ownUser, part)),
    z: { B: packed.subarray(part * PART_BYTES, (part + 1) * PART_BYTES) },
    ...(part ? { p: N(part) } : { n: N(count) }),
  }));
}

/** Reassembles keys (their JSON text) from their items in any order; parts beyond a key's count are stale, ignored. */
function decodeKeys(items: Item[]): Array<{ type: KeyType; id: string; json: string; parts: number }> {
  const heads = new Map<string, Item>();
  const parts = new Map<string, Buffer[]>();
  for (const item of items) {
    const name = `${item.t!.S}#${item.i!.S}`;
    if (item.p) (parts.get(name) ?? parts.set(name, []).get(name)!)[Number(item.p.N)] = Buffer.from(item.z!.B!);
    else heads.set(name, item);
  }
  return [...heads].map(([name, head]) => {
    const type = head.t!.S as KeyType;
    const id = head.i!.S!;
    const count = head.n ? Number(head.n.N) : 1;
    if (head.v) return { type, id, json: head.v.S!, parts: count };
    const more = parts.get(name) ?? [];
    const chunks: Buffer[] = [Buffer.from(head.z!.B!)];
    for (let part = 1; part < count; part++) {
      if (!more[part]) throw new Error(`key ${type}/${id}: part ${part} of ${count} missing`);
      chunks.push(more[part]!);
    }
    return { type, id, json: inflateSync(Buffer.concat(chunks)).toString(), parts: count };
  });
}

function itemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += name.length + (value.S !== undefined ? Buffer.byteLength(value.S) : value.B ? value.B.length : 24);
  return bytes;
}

/** Creates the session table if it is missing (the schema infra deploys: pk/sk strings, on demand, TTL on `ttl`). */
export async function ensureSessionTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (errorName(error) !== 'ResourceNotFoundException') throw error;
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: tableName });
  await client.send(
    new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } }),
  ).catch((error) => {
    if (!/already enabled/i.test(String((error as Error).message))) throw error;
  });
}

/**
 * Sessions in one DynamoDB table: per device (pk) a lease item, a creds item, and one item per key
 * (large values deflated and split). Layout and rationale: lib/session/README.md.
 */
export class DynamoDbSessionStore implements SessionStore {
  private readonly now: () => number;
  /** Keys seen spanning several items (device#sk → count), to delete the stale parts when they shrink. */
  private readonly partCounts = new Map<string, number>();
  /** Each device's own phone-number user (from its creds): which keys are hot depends on it. */
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  async acquireLease(deviceId: string, owner: string, ttlSeconds: number): Promise<Lease> {
    return (await acquireLeaseItem(this.client, this.tableName, deviceId, owner, ttlSeconds, this.now())).lease;
  }

  async renewLease(lease: Lease, ttlSeconds: number): Promise<Lease> {
    const expiresAt = this.now() + ttlSeconds * 1000;
    await this.fenced(lease, () =>
      this.client.send(new UpdateItemCommand(this.leaseUpdate(lease, 'SET expiresAt = :expiresAt, #ttl = :ttl', { ':expiresAt': N(expiresAt), ':ttl': N(leaseTtl(expiresAt)) }))),
    );
    return { ...lease, expiresAt };
  }

  async releaseLease(lease: Lease, options: { whenSeq?: number } = {}): Promise<void> {
    await this.transact(lease, [{ Update: this.release(lease, undefined, {}, options.whenSeq) }]).catch((error) => {
      if (!(error instanceof LeaseLostError)) throw error;
    });
  }

  async load(deviceId: string): Promise<SessionSnapshot> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :hot)',
      ExpressionAttributeValues: { ':pk': S(deviceId), ':hot': S('h#') },
    });
    const credsItem = items.find((item) => item.sk!.S === CREDS_SK);
    const keys: KeyChanges = {};
    for (const { type, id, json, parts } of decodeKeys(items.filter((item) => item !== credsItem))) {
      ((keys[type] ??= {}) as Record<string, unknown>)[id] = reviveKey(type, json);
      this.notePartCount(`${deviceId}#${type}#${id}`, parts);
    }
    const creds = credsItem?.creds?.S ? (JSON.parse(credsItem.creds.S, BufferJSON.reviver) as AuthenticationCreds) : undefined;
    this.rememberOwner(deviceId, creds);
    const state = (credsItem?.state?.S as SessionState | undefined) ?? (creds ? stateOf(creds) : 'absent');
    return { state, creds, keys };
  }

  async getKeys<T extends KeyType>(deviceId: string, type: T, ids: string[]): Promise<{ [id: string]: StoredDataTypeMap[T] }> {
    return ((await this.getMany(deviceId, { [type]: ids }))[type] ?? {}) as { [id: string]: StoredDataTypeMap[T] };
  }

  async getMany(deviceId: string, wanted: { [T in KeyType]?: string[] }): Promise<KeyChanges> {
    const owner = this.owners.get(deviceId);
    const sortKeys = (Object.entries(wanted) as Array<[KeyType, string[]]>).flatMap(([type, ids]) => [...new Set(ids)].map((id) => keySortKey(type, id, owner)));
    const heads = await this.batchGet(deviceId, sortKeys);
    const partSks = heads.flatMap((head) =>
      Array.from({ length: Number(head.n?.N ?? 1) - 1 }, (_, index) => keySortKey(head.t!.S as KeyType, head.i!.S!, owner, index + 1)),
    );
    const items = partSks.length ? [...heads, ...(await this.batchGet(deviceId, partSks))] : heads;
    const result: KeyChanges = {};
    for (const { type, id, json, parts } of decodeKeys(items)) {
      ((result[type] ??= {}) as Record<string, unknown>)[id] = reviveKey(type, json);
      this.notePartCount(`${deviceId}#${type}#${id}`, parts);
    }
    return result;
  }


  async write(lease: Lease, changes: { creds?: AuthenticationCreds; keys?: KeyChanges }): Promise<void> {
    const { groups, written } = this.changeOps(lease.deviceId, changes);
    for (const items of this.pack(groups)) await this.transact(lease, [...items, this.fence(lease)]);
    for (const [name, parts] of written) this.notePartCount(name, parts);
  }

  async commit(lease: Lease, changes: { creds?: AuthenticationCreds; keys?: KeyChanges; state?: 'logged-out' }, options: { whenSeq?: number } = {}): Promise<string> {
    const { groups, written } = this.changeOps(lease.deviceId, changes);
    const transactions = this.pack(groups);
    const last = transactions.pop() ?? [];
    for (const items of transactions) await this.transact(lease, [...items, this.fence(lease)]);
    const sessionVersion = randomUUID();
    const release = this.release(lease, 'sessionVersion = :version', { ':version': S(sessionVersion) }, options.whenSeq);
    await this.transact(lease, [...last, { Update: release }]);
    for (const [name, parts] of written) this.notePartCount(name, parts);
    return sessionVersion;
  }

  /** Everything stored for a device as the JSON texts written (BufferJSON), for a lossless export. */
  async exportDevice(deviceId: string): Promise<{ creds?: string; keys: Array<{ type: KeyType; id: string; json: string }> }> {
    const items = await this.queryAll({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': S(deviceId) } });
    return { creds: items.find((item) => item.sk!.S === CREDS_SK)?.creds?.S, keys: decodeKeys(items.filter((item) => item.t)) };
  }

  async list(): Promise<DeviceSummary[]> {
    const devices = new Map<string, DeviceSummary>();
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ExclusiveStartKey,
          FilterExpression: 'sk IN (:lease, :creds)',
          ProjectionExpression: 'pk, sk, #state, linkedJid, updatedAt, acquiredAt',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':lease': S(LEASE_SK), ':creds': S(CREDS_SK) },
        }),
      );
      for (const item of page.Items ?? []) {
        const deviceId = item.pk!.S!;
        const device = devices.get(deviceId) ?? devices.set(deviceId, { deviceId, state: 'absent' }).get(deviceId)!;
        if (item.sk!.S === CREDS_SK) {
          device.state = (item.state?.S as SessionState | undefined) ?? 'linking';
          if (item.linkedJid?.S) device.linkedJid = item.linkedJid.S;
        }
        const usedAt = Number(item.updatedAt?.N ?? item.acquiredAt?.N ?? 0);
        if (usedAt > (device.lastUsedAt ?? 0)) device.lastUsedAt = usedAt;
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    // A lease item alone is a device id someone asked for (a pin, a login that never paired): no device.
    return [...devices.values()].filter((device) => device.state !== 'absent').sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  }

  async deleteDevice(deviceId: string): Promise<void> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': S(deviceId) },
      ProjectionExpression: 'pk, sk',
    });
    await this.batchWrite(items.map((Key) => ({ DeleteRequest: { Key } })));
    for (const name of this.partCounts.keys()) if (name.startsWith(`${deviceId}#`)) this.partCounts.delete(name);
  }

  async putUnfenced<T extends KeyType>(deviceId: string, type: T, values: { [id: string]: StoredDataTypeMap[T] }): Promise<void> {
    const owner = this.owners.get(deviceId);
    const items = Object.entries(values).flatMap(([id, value]) => encodeKey(deviceId, type, id, value, owner));
    if (items.some((item) => item.n && Number(item.n.N) > 1)) throw new Error(`${type}: a value too large for an unfenced bulk write`);
    await this.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
  }

  async deleteKeysWithPrefix(deviceId: string, type: KeyType, idPrefix: string): Promise<void> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': S(deviceId), ':prefix': S(keySortKey(type, idPrefix, this.owners.get(deviceId))) },
      ProjectionExpression: 'pk, sk',
    });
    await this.batchWrite(items.map((Key) => ({ DeleteRequest: { Key } })));
  }

  /** BatchWriteItem of ≤ 25 requests each, BATCH_WRITE_PARALLEL at a time, unprocessed items retried with backoff. */
  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    const batches = Array.from({ length: Math.ceil(requests.length / BATCH_WRITE_MAX) }, (_, i) => requests.slice(i * BATCH_WRITE_MAX, (i + 1) * BATCH_WRITE_MAX));
    const worker = async () => {
      for (let next = batches.shift(); next; next = batches.shift()) {
        let batch: WriteRequest[] = next;
        for (let attempt = 0; batch.length; attempt++) {
          if (attempt) await this.retryPause(attempt, 'BatchWriteItem');
          const answer = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: batch } }));
          batch = answer.UnprocessedItems?.[this.tableName] ?? [];
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_WRITE_PARALLEL, batches.length) }, worker));
  }

  private rememberOwner(deviceId: string, creds: AuthenticationCreds | undefined): void {
    const owner = ownUserOf(creds);
    if (owner) this.owners.set(deviceId, owner);
  }

  private notePartCount(name: string, parts: number): void {
    if (parts > 1) this.partCounts.set(name, parts);
    else this.partCounts.delete(name);
  }


  private leaseUpdate(lease: Lease, UpdateExpression: string, values: Item = {}) {
    return {
      TableName: this.tableName,
      Key: { pk: S(lease.deviceId), sk: S(LEASE_SK) },
      UpdateExpression,
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': 'owner', ...(UpdateExpression.includes('#ttl') ? { '#ttl': 'ttl' } : {}) },
      ExpressionAttributeValues: { ':owner': S(lease.owner), ...values },
    };
  }

  /** The lease item's release (also setting `set`, e.g. the new session version), conditional on the queue's `seq` when given. */
  private release(lease: Lease, set: string | undefined, values: Item, whenSeq: number | undefined) {
    const update = this.leaseUpdate(lease, `SET #ttl = :ttl${set ? `, ${set}` : ''} REMOVE #owner, expiresAt`, { ...values, ':ttl': N(leaseTtl(this.now())) });
    if (whenSeq === undefined) return update;
    return {
      ...update,
      ConditionExpression: `${update.ConditionExpression} AND (attribute_not_exists(seq) OR seq = :seq)`,
      ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':seq': N(whenSeq) },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
  }

  /** The fence of a non-final transaction: still our lease; marks the session as changed since the last commit. */
  private fence(lease: Lease): TransactWriteItem {
    return { Update: this.leaseUpdate(lease, 'SET sessionVersion = :version', { ':version': S(`uncommitted-${randomUUID()}`) }) };
  }

  private async fenced<T>(lease: Lease, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') throw new LeaseLostError(`lease on device ${lease.deviceId} lost`, { cause: error });
      throw error;
    }
  }

  /** One fenced transaction (the lease operation last); conflicts retried, a failed fence → LeaseLostError. */
  private async transact(lease: Lease, TransactItems: TransactWriteItem[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems, ClientRequestToken: randomUUID() }));
        return;
      } catch (error) {
        const reasons = (error as { CancellationReasons?: Array<{ Code?: string; Item?: Item }> }).CancellationReasons ?? [];
        const fence = reasons[TransactItems.length - 1];
        if (fence?.Code === 'ConditionalCheckFailed') {
          if (fence.Item?.owner?.S === lease.owner) throw new QueueGrewError(Number(fence.Item.seq?.N ?? 0));
          throw new LeaseLostError(`lease on device ${lease.deviceId} lost`, { cause: error });
        }
        if (!reasons.some((reason) => reason.Code === 'TransactionConflict')) throw error;
        await this.retryPause(attempt + 1, 'TransactWriteItems', error);
      }
    }
  }

  private async retryPause(attempt: number, what: string, cause?: unknown): Promise<void> {
    if (attempt >= MAX_ATTEMPTS) throw new Error(`${what} still incomplete after ${MAX_ATTEMPTS} attempts`, { cause });
    await backoff(attempt);
  }

  /**
   * Write operations per key (a key's parts stay together so one transaction holds all of them), and
   * the part counts to remember once written (until then the larger count is kept).
   */
  private changeOps(deviceId: string, changes: { creds?: AuthenticationCreds; keys?: KeyChanges; state?: 'logged-out' }) {
    const groups: Op[][] = [];
    const written: Array<[string, number]> = [];
    const op = (item: TransactWriteItem, bytes: number): Op => ({ item, bytes });
    const key = (sk: string) => ({ pk: S(deviceId), sk: S(sk) });
    const credsKey = key(CREDS_SK);
    this.rememberOwner(deviceId, changes.creds);
    if (changes.creds) {
      const item: Item = {
        ...credsKey,
        creds: S(JSON.stringify(changes.creds, BufferJSON.replacer)),
        state: S(changes.state ?? stateOf(changes.creds)),
        updatedAt: N(this.now()),
        ...(changes.creds.me?.id ? { linkedJid: S(changes.creds.me.id) } : {}),
      };
      groups.push([op({ Put: { TableName: this.tableName, Item: item } }, itemBytes(item))]);
    } else if (changes.state) {
      const Update = {
        TableName: this.tableName,
        Key: credsKey,
        UpdateExpression: 'SET #state = :state, updatedAt = :now',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':state': S(changes.state), ':now': N(this.now()) },
      };
      groups.push([op({ Update }, 100)]);
    }
    for (const [type, values] of Object.entries(changes.keys ?? {}) as Array<[KeyType, Record<string, unknown>]>) {
      for (const [id, value] of Object.entries(values ?? {})) {
        const name = `${deviceId}#${type}#${id}`;
        const known = this.partCounts.get(name) ?? 1;
        const owner = this.owners.get(deviceId);
        const items = value === null || value === undefined ? [] : encodeKey(deviceId, type, id, value, owner);
        const group = items.map((Item) => op({ Put: { TableName: this.tableName, Item } }, itemBytes(Item)));
        for (let part = items.length; part < known; part++) group.push(op({ Delete: { TableName: this.tableName, Key: key(keySortKey(type, id, owner, part)) } }, 100));
        if (group.length >= MAX_TX_ITEMS) throw new Error(`key ${type}/${id} is too large to store`);
        this.notePartCount(name, Math.max(items.length, known));
        written.push([name, items.length]);
        groups.push(group);
      }
    }
    return { groups, written };
  }

  /** Packs groups into transactions of at most 99 items (one slot for the fence) and MAX_TX_BYTES. */
  private pack(groups: Op[][]): TransactWriteItem[][] {
    const transactions: TransactWriteItem[][] = [];
    let current: TransactWriteItem[] = [];
    let bytes = 0;
    for (const group of groups) {
      const groupBytes = group.reduce((sum, { bytes: b }) => sum + b, 0);
      if (current.length && (current.length + group.length > MAX_TX_ITEMS - 1 || bytes + groupBytes > MAX_TX_BYTES)) {
        transactions.push(current);
        current = [];
        bytes = 0;
      }
      current.push(...group.map(({ item }) => item));
      bytes += groupBytes;
    }
    if (current.length) transactions.push(current);
    return transactions;
  }

  private async queryAll(input: { KeyConditionExpression: string; ExpressionAttributeValues: Item; ProjectionExpression?: string }): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey, ...input }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  /** BatchGetItem by sort key, ≤ 100 keys per request, unprocessed keys retried with backoff. */
  private async batchGet(deviceId: string, sortKeys: string[]): Promise<Item[]> {
    const items: Item[] = [];
    for (let start = 0; start < sortKeys.length; start += BATCH_GET_MAX) {
      let keys: Item[] = sortKeys.slice(start, start + BATCH_GET_MAX).map((sk) => ({ pk: S(deviceId), sk: S(sk) }));
      for (let attempt = 0; keys.length; attempt++) {
        if (attempt) await this.retryPause(attempt, 'BatchGetItem');
        const { Responses, UnprocessedKeys } = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        items.push(...(Responses?.[this.tableName] ?? []));
        keys = UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return items;
  }
}
