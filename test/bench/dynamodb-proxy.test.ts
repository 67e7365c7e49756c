import { describe, expect, it } from '@jest/globals';
import { itemBytes, transactionWriteUnits, unitsOf, withCapacity } from '../../bench/dynamodb-proxy.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('dynamodb proxy capacity', () => {
  it('asks for the consumed capacity of data operations only, and only when the client did not', () => {
    // Act
    const query = withCapacity('Query', json({ TableName: 't' }));
    const asked = withCapacity('PutItem', json({ TableName: 't', ReturnConsumedCapacity: 'INDEXES' }));
    const admin = withCapacity('CreateTable', json({ TableName: 't' }));
    // Assess
    expect(query.injected).toBe(true);
    expect(JSON.parse(query.body.toString())).toEqual({ TableName: 't', ReturnConsumedCapacity: 'TOTAL' });
    expect(asked.injected).toBe(false);
    expect(admin.injected).toBe(false);
  });

  it('sums the units of an answer (one entry or one per table) and counts the answer without the capacity it added', () => {
    // Prepare
    const items = { Items: [{ pk: { S: 'device' } }] };
    const answer = json({ ...items, ConsumedCapacity: { TableName: 't', CapacityUnits: 2 } });
    const batch = json({ UnprocessedItems: {}, ConsumedCapacity: [{ TableName: 't', CapacityUnits: 4 }, { TableName: 'u', CapacityUnits: 2 }] });
    // Act
    const read = unitsOf('Query', json({}), 200, answer, true);
    const write = unitsOf('BatchWriteItem', json({}), 200, batch, true);
    // Assess
    expect(read).toEqual({ read: 2, write: 0, estimated: false, answerBytes: json(items).length });
    expect(write).toEqual({ read: 0, write: 6, estimated: false, answerBytes: json({ UnprocessedItems: {} }).length });
  });

  it('counts a transaction from its request (DynamoDB Local undercounts them): 2 units per KB of each item', () => {
    // Prepare
    const key = { pk: { S: 'device' }, sk: { S: 'lease' } };
    const request = {
      TransactItems: [
        { Put: { TableName: 't', Item: { pk: { S: 'device' }, sk: { S: 'h#creds' }, creds: { S: 'x'.repeat(2_000) } } } }, // 2 KB
        { Put: { TableName: 't', Item: { pk: { S: 'device' }, sk: { S: 'k#entry' }, v: { S: 'y'.repeat(44) } } } }, // 1 KB
        { Update: { TableName: 't', Key: key, UpdateExpression: 'SET sessionVersion = :v', ExpressionAttributeValues: { ':v': { S: 'v1' } } } }, // 1 KB
        { Delete: { TableName: 't', Key: key } }, // 1 KB
      ],
    };
    const answer = json({ ConsumedCapacity: [{ TableName: 't', CapacityUnits: 2 }] });
    // Act
    const units = unitsOf('TransactWriteItems', json(request), 200, answer, true);
    // Assess
    expect(transactionWriteUnits(request)).toBe(2 * (2 + 1 + 1 + 1));
    expect(units).toMatchObject({ write: 10, estimated: false });
  });

  it('sizes items by DynamoDB\'s rules: names and values, numbers by digits, binary decoded, maps and lists with overhead', () => {
    expect(itemBytes({ pk: { S: 'abc' } })).toBe(5);
    expect(itemBytes({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemBytes({ b: { B: Buffer.alloc(10).toString('base64') } })).toBe(11);
    expect(itemBytes({ m: { M: { k: { S: 'v' } } } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemBytes({ l: { L: [{ BOOL: true }, { NULL: true }] } })).toBe(1 + 3 + 2 + 2);
  });

  it('estimates a failed write from its request size (1 unit per KB, doubled in a transaction)', () => {
    // Prepare
    const failed = json({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException' });
    // Act
    const update = unitsOf('UpdateItem', Buffer.alloc(300), 400, failed, true);
    const transaction = unitsOf('TransactWriteItems', json({ TransactItems: [{ Put: { Item: { pk: { S: 'x'.repeat(1_500) } } } }, { Delete: {} }] }), 400, failed, true);
    const read = unitsOf('GetItem', Buffer.alloc(100), 400, failed, true);
    // Assess
    expect(update).toMatchObject({ write: 1, estimated: true, answerBytes: failed.length });
    expect(transaction).toMatchObject({ write: 6, estimated: true });
    expect(read).toMatchObject({ read: 0, write: 0, estimated: false });
  });
});
