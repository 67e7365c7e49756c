import { describe, expect, it } from '@jest/globals';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

describe('DynamoDB Local (global setup)', () => {
  it('answers on the endpoint the workers inherit', async () => {
    // Prepare
    const client = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB });
    // Act
    const tables = await client.send(new ListTablesCommand({}));
    // Assess
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(tables.TableNames).toEqual(expect.any(Array));
    client.destroy();
  });
});
