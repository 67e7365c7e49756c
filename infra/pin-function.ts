/**
 * The pin function with the project's defaults, and the only way it gets access to anything:
 * each `use…` method sets an environment variable together with the least-privilege grant it
 * implies (exact actions, exactly that resource).
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/observability.js';
import { lambdaBundling, NODE_OPTIONS } from './bundling.js';

export const PIN_ENTRY = fileURLToPath(new URL('../functions/pin-chat.ts', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Budget of one pin (PIN_TIMEOUT_MS): WhatsApp round trips plus the final commit. */
export const PIN_TIMEOUT = Duration.seconds(20);
/** Function timeout: the pin budget plus room to commit, release the lease and answer (API Gateway cuts at 29 s). */
export const FUNCTION_TIMEOUT = Duration.seconds(30);

/** What a pin does on the sessions table (TransactWriteItems needs the per-item actions). */
export const SESSION_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
];
/** What DynamoDB and Secrets Manager ask of the caller's key permissions (no wildcards). */
export const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'];

export interface PinFunctionProps {
  /** STAGE: the `stage` dimension of every metric the function emits. */
  stage: string;
  defaultDeviceId: string;
  maxPinnedChats: number;
  memorySize: number;
  reservedConcurrency?: number;
}

export class PinFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: PinFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    // An own role instead of AWSLambdaBasicExecutionRole: logs go to this log group only.
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: PIN_ENTRY,
      projectRoot: PROJECT_ROOT,
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: FUNCTION_TIMEOUT,
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup,
      bundling: lambdaBundling,
      environment: {
        STAGE: props.stage,
        DEFAULT_DEVICE_ID: props.defaultDeviceId,
        MAX_PINNED_CHATS: String(props.maxPinnedChats),
        CHECK_CHAT_EXISTS: 'true',
        PIN_TIMEOUT_MS: String(PIN_TIMEOUT.toMilliseconds()),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS,
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions::AwsSolutions-L1',
      reason:
        'Node.js 22 on purpose (supported by Lambda into 2027): the bundle target, the Node 22 compile cache and the benchmark figures are for this runtime; moving to a newer one is a measured change, not a default bump.',
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason:
        "Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing) use '*': X-Ray does not support resource-level permissions for them. Every other statement names exactly one resource (asserted in test/infra).",
    });
  }

  /** SESSION_TABLE + the table actions of a pin on that table + its key, used through DynamoDB only. */
  useSessionTable(table: ITable, key: IKey): void {
    this.function.addEnvironment('SESSION_TABLE', table.tableName);
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions: SESSION_TABLE_ACTIONS, resources: [table.tableArn] }));
    this.role.addToPrincipalPolicy(this.viaService(key, TABLE_KEY_ACTIONS, 'dynamodb'));
  }

  /** API_CREDENTIALS_SECRET_ID + GetSecretValue on that secret + decrypting it through Secrets Manager. */
  useApiCredentials(secret: ISecret, key: IKey): void {
    this.function.addEnvironment('API_CREDENTIALS_SECRET_ID', secret.secretArn);
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }));
    this.role.addToPrincipalPolicy(this.viaService(key, ['kms:Decrypt'], 'secretsmanager'));
  }

  /** DEAD_LETTER_QUEUE_URL + SendMessage on that queue only (SQS-managed encryption: no key to grant). */
  useDeadLetterQueue(queue: IQueue): void {
    this.function.addEnvironment('DEAD_LETTER_QUEUE_URL', queue.queueUrl);
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
  }

  /** Key use allowed only when the named service calls KMS on the function's behalf. */
  private viaService(key: IKey, actions: string[], service: string): PolicyStatement {
    return new PolicyStatement({
      actions,
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(this).region}.amazonaws.com` } },
    });
  }
}
