/**
 * Everything that can be destroyed and redeployed at will: the pin function, its REST API (with a
 * WAF body-size limit), and the FIFO queue that serialises pins per device for AWS services and
 * bulk callers.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  MockIntegration,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PayloadTooLargeError } from '../lib/errors.js';
import { mapError } from '../lib/http/error-response.js';
import { PinAlarms } from './alarms.js';
import { FUNCTION_TIMEOUT, PinFunction, PROJECT_ROOT } from './pin-function.js';
import type { Settings } from './settings.js';
import type { SessionData } from './stateful-stack.js';

/** The function's own 413 limit (16 KiB); WAF applies the same one before anything is invoked. */
export const MAX_BODY_BYTES = 16 * 1024;
/** AWS's advice for an SQS event source: visibility timeout ≥ 6 × the function timeout. */
export const QUEUE_VISIBILITY_TIMEOUT = Duration.seconds(FUNCTION_TIMEOUT.toSeconds() * 6);
/** Deliveries of one message before it moves to the DLQ (a busy device is retried meanwhile). */
export const MAX_RECEIVE_COUNT = 5;
/** The API's OpenAPI document, served as is at GET /openapi.yaml. */
export const OPENAPI_FILE = join(PROJECT_ROOT, 'openapi.yaml');

/**
 * API Gateway's own answers, in the seed's envelope: [type, status, code, message (undefined: the gateway's
 * own, JSON-quoted by $context.error.messageString)].
 */
export const GATEWAY_RESPONSES: Array<[ResponseType, string, string, string | undefined]> = [
  // An unknown path or method. The REST API's default is 403 "Missing Authentication Token", or with an
  // Authorization header (every GOWA client sends Basic) a 403 that echoes the header's value.
  [ResponseType.MISSING_AUTHENTICATION_TOKEN, '404', '404', 'Not Found'],
  [ResponseType.RESOURCE_NOT_FOUND, '404', '404', 'Not Found'],
  [ResponseType.ACCESS_DENIED, '403', '403', 'Forbidden'],
  [ResponseType.WAF_FILTERED, '403', '403', 'Forbidden'],
  [ResponseType.THROTTLED, '429', '429', 'Too Many Requests'],
  [ResponseType.QUOTA_EXCEEDED, '429', '429', 'Too Many Requests'],
  [ResponseType.REQUEST_TOO_LARGE, '413', '413', mapError(new PayloadTooLargeError(MAX_BODY_BYTES)).body.message],
  [ResponseType.INTEGRATION_TIMEOUT, '504', 'GATEWAY_TIMEOUT', 'the function did not answer in time'],
  // Anything else: 400 for the client's part, and the contract's "anything unexpected" for the gateway's.
  [ResponseType.DEFAULT_4XX, '400', '400', undefined],
  [ResponseType.DEFAULT_5XX, '500', 'INTERNAL_SERVER_ERROR', undefined],
];

export interface StatelessStackProps extends StackProps {
  settings: Settings;
  data: SessionData;
}

export class StatelessStack extends Stack {
  readonly pin: PinFunction;
  readonly api: RestApi;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly alarms: PinAlarms;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { settings, data } = props;

    this.pin = new PinFunction(this, 'PinChat', {
      stage: settings.stage,
      defaultDeviceId: settings.defaultDeviceId,
      maxPinnedChats: settings.maxPinnedChats,
      memorySize: settings.memorySize,
      reservedConcurrency: settings.reservedConcurrency,
    });
    this.pin.useSessionTable(data.table, data.key);
    this.pin.useApiCredentials(data.apiCredentials, data.key);
    const fn = this.pin.function;

    // --- HTTP: REST API (regional) -------------------------------------------------------------
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new RestApi(this, 'Api', {
      restApiName: `whatsapp-pin-${settings.stage}`,
      description: 'GOWA-compatible WhatsApp chat pin API',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Access and execution logs of a REST API need the account-level API Gateway CloudWatch role. It is one
      // setting per account and region: creating it replaces whatever role was set there, so it is opt-in.
      cloudWatchRole: settings.apiGatewayCloudWatchRole,
      cloudWatchRoleRemovalPolicy: settings.apiGatewayCloudWatchRole ? RemovalPolicy.RETAIN : undefined,
      deployOptions: {
        stageName: settings.stage,
        throttlingRateLimit: settings.throttleRateLimit,
        throttlingBurstLimit: settings.throttleBurstLimit,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false, // full request logging would write Authorization headers
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        // resourcePath, not path: the path holds the chat JID (a phone number).
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            time: AccessLogField.contextRequestTime(),
            ip: AccessLogField.contextIdentitySourceIp(),
            method: AccessLogField.contextHttpMethod(),
            resource: AccessLogField.contextResourcePath(),
            status: AccessLogField.contextStatus(),
            responseLength: AccessLogField.contextResponseLength(),
            latencyMs: AccessLogField.contextResponseLatency(),
            integrationLatencyMs: AccessLogField.contextIntegrationLatency(),
            integrationStatus: AccessLogField.contextIntegrationStatus(),
            wafStatus: AccessLogField.contextWafResponseCode(),
            errorType: AccessLogField.contextErrorResponseType(),
            xrayTraceId: AccessLogField.contextXrayTraceId(),
          }),
        ),
      },
    });
    // Execution logs (errors only) go to a group API Gateway would otherwise create without retention.
    const executionLogs = new LogGroup(this, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${settings.stage}`,
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api.deploymentStage.node.addDependency(executionLogs);

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions::AwsSolutions-APIG2',
      reason:
        "The function validates body, chat JID and device id and answers with the GOWA contract's exact envelope and messages (tested); a gateway request validator would answer in its own format and break that contract. Oversized bodies are stopped by WAF.",
    });
    if (settings.apiGatewayCloudWatchRole) {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "AWS's own policy for API Gateway's account-level CloudWatch role, which REST API access and execution logs require; the role can only be assumed by apigateway.amazonaws.com.",
      });
    }
    for (const [type, statusCode, code, message] of GATEWAY_RESPONSES) {
      this.api.addGatewayResponse(type.responseType, {
        type,
        statusCode,
        templates: { 'application/json': `{"code":"${code}","message":${message === undefined ? '$context.error.messageString' : JSON.stringify(message)},"results":{}}` },
      });
    }

    const pinMethod = this.api.root
      .addResource('chat')
      .addResource('{chat_jid}')
      .addResource('pin')
      .addMethod('POST', new LambdaIntegration(fn, { allowTestInvoke: false }));
    const basicAuth =
      'Authentication is HTTP Basic, as the GOWA API contract requires of its clients: the function checks it first, against the Secrets Manager secret with a constant-time comparison, before reading the body or touching the store; a Cognito or IAM authorizer would break compatibility with GOWA clients.';
    Validations.of(pinMethod).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-APIG4', reason: basicAuth },
      { id: 'AwsSolutions::AwsSolutions-COG4', reason: basicAuth },
    );

    this.addBodySizeLimit();
    this.serveOpenApiDocument();

    // --- Queue: FIFO, one message group per device ----------------------------------------------
    this.deadLetterQueue = new Queue(this, 'PinDeadLetterQueue', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'PinQueue', {
      fifo: true,
      // No content-based deduplication: pin, unpin, pin within 5 minutes would drop the last pin.
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: QUEUE_VISIBILITY_TIMEOUT,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    // One message per invocation: a pin may take the whole pin budget, so a batch of N would need
    // N budgets inside one function timeout. Failed records are reported, not the whole batch.
    fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }));
    // Client errors skip the redeliveries: the function puts them in the DLQ itself.
    this.pin.useDeadLetterQueue(this.deadLetterQueue);

    this.alarms = new PinAlarms(this, 'Alarms', {
      stage: settings.stage,
      function: fn,
      apiStage: this.api.deploymentStage,
      deadLetterQueue: this.deadLetterQueue,
      pinLatencyP95Ms: settings.pinLatencyP95AlarmMs,
      email: settings.alarmEmail,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.urlForPath('/'), description: 'Base URL: POST <ApiUrl>chat/{chat_jid}/pin' });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl, description: 'FIFO queue: MessageGroupId = device id' });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'FunctionName', { value: fn.functionName, description: 'Direct invocation / EventBridge target' });
    new CfnOutput(this, 'FunctionArn', { value: fn.functionArn });
    new CfnOutput(this, 'OpenApiUrl', { value: this.api.urlForPath('/openapi.yaml'), description: 'The OpenAPI document (no auth)' });
    if (this.alarms.topic) new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'Alarm notifications' });
  }

  /**
   * GET /openapi.yaml: the document at the project root, read at synth time and answered by API Gateway
   * itself (a mock integration, no function, no auth). `#[[…]]#` keeps VTL from reading `$ref` or `#`.
   */
  private serveOpenApiDocument(): void {
    const document = readFileSync(OPENAPI_FILE, 'utf8');
    if (document.includes(']]#')) throw new Error(`${OPENAPI_FILE} contains "]]#", which would end its verbatim block in the mapping template`);
    const contentType = 'method.response.header.Content-Type';
    const method = this.api.root.addResource('openapi.yaml').addMethod(
      'GET',
      new MockIntegration({
        requestTemplates: { 'application/json': '{"statusCode": 200}' },
        integrationResponses: [{ statusCode: '200', responseParameters: { [contentType]: "'application/yaml'" }, responseTemplates: { 'application/yaml': `#[[${document}]]#` } }],
      }),
      { methodResponses: [{ statusCode: '200', responseParameters: { [contentType]: true } }] },
    );
    const publicDocument = 'The OpenAPI document describes the public contract and holds no data: anyone may read it, as GOWA publishes its own; the pin route keeps its basic auth.';
    Validations.of(method).acknowledge(
      { id: 'AwsSolutions::AwsSolutions-APIG4', reason: publicDocument },
      { id: 'AwsSolutions::AwsSolutions-COG4', reason: publicDocument },
    );
  }

  /** WAF on the stage: bodies over MAX_BODY_BYTES get the API's 413 envelope without invoking anything. */
  private addBodySizeLimit(): void {
    const tooLarge = mapError(new PayloadTooLargeError(MAX_BODY_BYTES)); // the function's own 413, word for word
    const metric = (name: string) => ({ cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: false });
    const acl = new CfnWebACL(this, 'ApiWebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      // Sampled requests would show request headers (Authorization) in the console: off.
      visibilityConfig: metric('pin-api'),
      associationConfig: { requestBody: { API_GATEWAY: { defaultSizeInspectionLimit: 'KB_16' } } },
      customResponseBodies: {
        'body-too-large': {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify(tooLarge.body),
        },
      },
      rules: [
        {
          name: 'body-size-limit',
          priority: 0,
          action: { block: { customResponse: { responseCode: tooLarge.statusCode, customResponseBodyKey: 'body-too-large' } } },
          statement: {
            sizeConstraintStatement: {
              // Bodies beyond the 16 KB inspection limit are oversize: MATCH blocks them too.
              fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
              comparisonOperator: 'GT',
              size: MAX_BODY_BYTES,
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          visibilityConfig: metric('pin-api-body-size-limit'),
        },
      ],
    });
    new CfnWebACLAssociation(this, 'ApiWebAclAssociation', {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: acl.attrArn,
    });
  }
}
