// jest loads globalSetup/teardown through its CommonJS transform, without moduleNameMapper: hence the .ts import.
import { startDynamoDbLocal } from '../../lib/local/dynamodb-local.ts';

/** One DynamoDB Local for the whole jest run; workers inherit its endpoint through the environment. */
export default async function globalSetup(): Promise<void> {
  const dynamo = await startDynamoDbLocal();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  (globalThis as { __dynamoDbLocal?: typeof dynamo }).__dynamoDbLocal = dynamo;
}
