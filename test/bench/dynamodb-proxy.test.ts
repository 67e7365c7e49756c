import { describe, expect, it } from '@jest/globals';
import { unitsOf, withCapacity } from '../../bench/dynamodb-proxy.js';

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
    const transaction = json({ ConsumedCapacity: [{ TableName: 't', CapacityUnits: 4 }, { TableName: 'u', CapacityUnits: 2 }] });
    // Act
    const read = unitsOf('Query', json({}), 200, answer, true);
    const write = unitsOf('TransactWriteItems', json({}), 200, transaction, true);
    // Assess
    expect(read).toEqual({ read: 2, write: 0, estimated: false, answerBytes: json(items).length });
    expect(write).toMatchObject({ read: 0, write: 6, estimated: false, answerBytes: 2 });
  });

  it('estimates a failed write from its request size (1 unit per KB, doubled in a transaction)', () => {
    // Prepare
    const failed = json({ __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException' });
    // Act
    const update = unitsOf('UpdateItem', Buffer.alloc(300), 400, failed, true);
    const transaction = unitsOf('TransactWriteItems', Buffer.alloc(2_500), 400, failed, true);
    const read = unitsOf('GetItem', Buffer.alloc(100), 400, failed, true);
    // Assess
    expect(update).toMatchObject({ write: 1, estimated: true, answerBytes: failed.length });
    expect(transaction).toMatchObject({ write: 6, estimated: true });
    expect(read).toMatchObject({ read: 0, write: 0, estimated: false });
  });
});
