/**
 * The SQS source's dead-letter queue, written to directly: a record that fails the same way on every
 * delivery (a client error) goes there at once instead of after every redelivery. Body, message group
 * and attributes are kept, so a redrive sends it back unchanged; `error` says why it is there.
 */
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

export class DeadLetterQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly sqs: SQSClient,
  ) {}

  async send(record: SQSRecord, error: string): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, { dataType, stringValue, binaryValue }] of Object.entries(record.messageAttributes)) {
      attributes[name] = { DataType: dataType, StringValue: stringValue, BinaryValue: binaryValue === undefined ? undefined : Buffer.from(binaryValue, 'base64') };
    }
    await this.sqs.send(
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
