/**
 * The SQS source's dead-letter queue, written to directly: a record that fails the same way on every
 * delivery (a client error) goes there at once instead of after every redelivery. Body, message group
 * and attributes are kept, so a redrive sends it back unchanged; `error` says why it is there.
 */
import type { MessageAttributeValue, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

/** The SQS SDK is loaded on the first dead letter, not on the cold start of every pin. */
const loadSqs = () => import('@aws-sdk/client-sqs');

export class DeadLetterQueue {
  private sqs?: Promise<SQSClient>;

  /** `client`: how to build the SQS client, once, when the first record goes to the queue. */
  constructor(
    private readonly queueUrl: string,
    private readonly client: () => SQSClient | Promise<SQSClient> = async () => new (await loadSqs()).SQSClient({}),
  ) {}

  async send(record: SQSRecord, error: string): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, { dataType, stringValue, binaryValue }] of Object.entries(record.messageAttributes)) {
      attributes[name] = { DataType: dataType, StringValue: stringValue, BinaryValue: binaryValue === undefined ? undefined : Buffer.from(binaryValue, 'base64') };
    }
    const [sqs, { SendMessageCommand }] = await Promise.all([(this.sqs ??= Promise.resolve(this.client())), loadSqs()]);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: record.body,
        MessageGroupId: record.attributes.MessageGroupId,
        // The source message's id: forwarding the same record twice (a retried invocation) stores it once.
        MessageDeduplicationId: record.messageId,
        MessageAttributes: { ...attributes, error: { DataType: 'String', StringValue: error }, sourceMessageId: { DataType: 'String', StringValue: record.messageId } },
      }),
    );
  }
}
