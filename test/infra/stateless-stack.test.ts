import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { MAX_BODY_BYTES, OPENAPI_FILE } from '../../infra/stateless-stack.js';
import { synthPinApp } from './cdk-app.js';

// Prepare (shared): the app as cdk.json defines it, and once more with -c overrides.
const defaults = synthPinApp();
const template = Template.fromStack(defaults.stateless);
const fnId = Object.keys(template.findResources('AWS::Lambda::Function'))[0];
const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.anyValue() } }));
const [dlqId] = Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.absent() } }));

/** The producer output a weak cross-stack reference (Fn::GetStackOutput) reads. */
function producedBy(value: unknown): unknown {
  const ref = (value as { 'Fn::GetStackOutput': { StackName: string; OutputName: string } })['Fn::GetStackOutput'];
  expect(ref.StackName).toBe(defaults.stateful.stackName);
  return Template.fromStack(defaults.stateful).findOutputs(ref.OutputName)[ref.OutputName].Value;
}

describe('StatelessStack', () => {
  it('runs the pin function on Node.js 22, arm64, ESM bundle handler, active tracing, sized from context', () => {
    // Act / Assess
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1769,
      Timeout: 30,
      TracingConfig: { Mode: 'Active' },
      ReservedConcurrentExecutions: Match.absent(),
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^PinChatLogs') } },
    });
  });

  it('sets every environment variable the function reads, the stateful ones from the stateful stack', () => {
    // Act
    const { Variables: env } = template.toJSON().Resources[fnId].Properties.Environment;
    // Assess
    expect(Object.keys(env).sort()).toEqual(
      [
        'API_CREDENTIALS_SECRET_ID',
        'CHECK_CHAT_EXISTS',
        'DEAD_LETTER_QUEUE_URL',
        'DEFAULT_DEVICE_ID',
        'MAX_PINNED_CHATS',
        'NODE_OPTIONS',
        'PIN_TIMEOUT_MS',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'SESSION_TABLE',
        'STAGE',
      ].sort(),
    );
    expect(env).toMatchObject({ STAGE: 'prod', DEFAULT_DEVICE_ID: 'default', MAX_PINNED_CHATS: '3', CHECK_CHAT_EXISTS: 'true', PIN_TIMEOUT_MS: '20000', DEAD_LETTER_QUEUE_URL: { Ref: dlqId } });
    // the names the README's configuration table and the alarms use
    expect(env).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'whatsapp-pin-api', POWERTOOLS_METRICS_NAMESPACE: 'WhatsAppPinApi' });
    expect(env.NODE_OPTIONS).toBe('--experimental-async-context-frame'); // AsyncLocalStorage on AsyncContextFrame (infra/bundling.ts)
    expect(env.WHATSAPP_WS_URL).toBeUndefined();
    const stateful = Template.fromStack(defaults.stateful).toJSON().Resources;
    const tableRef = producedBy(env.SESSION_TABLE) as { Ref: string };
    const secretRef = producedBy(env.API_CREDENTIALS_SECRET_ID) as { Ref: string };
    expect(stateful[tableRef.Ref].Type).toBe('AWS::DynamoDB::Table');
    expect(stateful[secretRef.Ref].Type).toBe('AWS::SecretsManager::Secret');
    expect(stateful[secretRef.Ref].Properties.GenerateSecretString).toBeUndefined(); // the credentials, not the seed
  });

  it('routes POST /chat/{chat_jid}/pin to the function (proxy integration) and GET /openapi.yaml to the gateway, nothing else', () => {
    // Act
    const methods = template.findResources('AWS::ApiGateway::Method');
    const resources = template.findResources('AWS::ApiGateway::Resource');
    // Assess
    expect(Object.values(resources).map((r) => r.Properties.PathPart)).toEqual(['chat', '{chat_jid}', 'pin', 'openapi.yaml']);
    expect(Object.values(methods).map((m) => [m.Properties.HttpMethod, m.Properties.Integration.Type]).sort()).toEqual([
      ['GET', 'MOCK'],
      ['POST', 'AWS_PROXY'],
    ]);
    const method = Object.values(methods).find((m) => m.Properties.HttpMethod === 'POST')!;
    expect(method.Properties).toMatchObject({ HttpMethod: 'POST', AuthorizationType: 'NONE', Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' } });
    expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(`"${fnId}","Arn"`);
    expect(resources[method.Properties.ResourceId.Ref].Properties.PathPart).toBe('pin');
  });

  it('throttles the stage from context, writes access logs without the JID, execution logs without request data', () => {
    // Act / Assess
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10, LoggingLevel: 'ERROR', DataTraceEnabled: false }),
      ],
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"resource":"\\$context.resourcePath"') },
    });
    const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage'));
    expect(stage.Properties.AccessLogSetting.Format).not.toContain('$context.path');
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: Match.anyValue() }, '/prod']] },
      RetentionInDays: 30,
    });
  });

  it('leaves the account-wide API Gateway CloudWatch role alone unless -c apiGatewayCloudWatchRole=true, then sets it and retains it', () => {
    // Prepare
    const optedIn = Template.fromStack(synthPinApp({ apiGatewayCloudWatchRole: 'true' }).stateless);
    // Act / Assess
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    template.resourceCountIs('AWS::IAM::Role', 1); // the function's
    optedIn.resourceCountIs('AWS::ApiGateway::Account', 1);
    const [[roleId]] = Object.entries(optedIn.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] } } }));
    optedIn.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } });
    optedIn.hasResource('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: Match.anyValue() }, DeletionPolicy: 'Retain' });
  });

  it('answers API Gateway\'s own errors in the seed\'s envelope: unknown routes 404 (not 403), throttling 429, gateway failures 5xx', () => {
    // Prepare: what API Gateway substitutes for $context.error.messageString (a JSON string)
    const render = (body: string) => JSON.parse(body.replace('$context.error.messageString', JSON.stringify('the gateway\'s message')));
    // Act
    const responses = Object.fromEntries(
      Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map((r) => [
        r.Properties.ResponseType,
        { status: r.Properties.StatusCode, body: render(r.Properties.ResponseTemplates['application/json']) },
      ]),
    );
    // Assess
    expect(responses).toEqual({
      MISSING_AUTHENTICATION_TOKEN: { status: '404', body: { code: '404', message: 'Not Found', results: {} } },
      RESOURCE_NOT_FOUND: { status: '404', body: { code: '404', message: 'Not Found', results: {} } },
      ACCESS_DENIED: { status: '403', body: { code: '403', message: 'Forbidden', results: {} } },
      WAF_FILTERED: { status: '403', body: { code: '403', message: 'Forbidden', results: {} } },
      THROTTLED: { status: '429', body: { code: '429', message: 'Too Many Requests', results: {} } },
      QUOTA_EXCEEDED: { status: '429', body: { code: '429', message: 'Too Many Requests', results: {} } },
      REQUEST_TOO_LARGE: { status: '413', body: { code: '413', message: 'request body larger than 16384 bytes', results: {} } },
      INTEGRATION_TIMEOUT: { status: '504', body: { code: 'GATEWAY_TIMEOUT', message: 'the function did not answer in time', results: {} } },
      DEFAULT_4XX: { status: '400', body: { code: '400', message: "the gateway's message", results: {} } },
      DEFAULT_5XX: { status: '500', body: { code: 'INTERNAL_SERVER_ERROR', message: "the gateway's message", results: {} } },
    });
    // an unknown path never answers with the gateway's message, which would echo the Authorization header
    expect(JSON.stringify(template.toJSON())).not.toContain('Missing Authentication Token');
    for (const response of Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'))) {
      if (response.Properties.ResponseType === 'MISSING_AUTHENTICATION_TOKEN') expect(response.Properties.ResponseTemplates['application/json']).not.toContain('$context');
    }
  });

  it('serves the project\'s openapi.yaml at GET /openapi.yaml, verbatim, as application/yaml, without auth', () => {
    // Prepare
    const document = readFileSync(OPENAPI_FILE, 'utf8');
    const [method] = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'GET' } }));
    // Act
    const [response] = method.Properties.Integration.IntegrationResponses;
    // Assess
    expect(method.Properties).toMatchObject({ AuthorizationType: 'NONE', Integration: { Type: 'MOCK', RequestTemplates: { 'application/json': '{"statusCode": 200}' } } });
    expect(response).toMatchObject({ StatusCode: '200', ResponseParameters: { 'method.response.header.Content-Type': "'application/yaml'" } });
    // a VTL unparsed block: $ref and # comments reach the client as written
    expect(response.ResponseTemplates).toEqual({ 'application/yaml': `#[[${document}]]#` });
    expect(method.Properties.MethodResponses).toEqual([{ StatusCode: '200', ResponseParameters: { 'method.response.header.Content-Type': true } }]);
    expect(JSON.stringify(template.findOutputs('OpenApiUrl').OpenApiUrl.Value)).toMatch(/\/openapi\.yaml"\]\]\}$/);
  });

  it('limits request bodies to the function\'s 16 KiB with WAF on the stage, answering the API\'s 413 envelope', () => {
    // Act
    const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL'));
    // Assess
    expect(acl.Properties.Scope).toBe('REGIONAL');
    expect(acl.Properties.Rules).toEqual([
      expect.objectContaining({
        Action: { Block: { CustomResponse: { ResponseCode: 413, CustomResponseBodyKey: 'body-too-large' } } },
        Statement: {
          SizeConstraintStatement: {
            FieldToMatch: { Body: { OversizeHandling: 'MATCH' } },
            ComparisonOperator: 'GT',
            Size: 16384,
            TextTransformations: [{ Priority: 0, Type: 'NONE' }],
          },
        },
      }),
    ]);
    expect(MAX_BODY_BYTES).toBe(16 * 1024);
    expect(JSON.parse(acl.Properties.CustomResponseBodies['body-too-large'].Content)).toEqual({
      code: '413',
      message: 'request body larger than 16384 bytes',
      results: {},
    });
    expect(acl.Properties.VisibilityConfig.SampledRequestsEnabled).toBe(false);
    const [association] = Object.values(template.findResources('AWS::WAFv2::WebACLAssociation'));
    const [stageId] = Object.keys(template.findResources('AWS::ApiGateway::Stage'));
    expect(association.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [Object.keys(template.findResources('AWS::WAFv2::WebACL'))[0], 'Arn'] });
    expect(JSON.stringify(association.Properties.ResourceArn)).toMatch(new RegExp(`/restapis/",\\{"Ref":"Api[0-9A-F]+"\\},"/stages/",\\{"Ref":"${stageId}"\\}`));
  });

  it('feeds the function from a FIFO queue with a FIFO DLQ, one record per invocation, partial batch failures', () => {
    // Act
    const queues = template.toJSON().Resources;
    // Assess
    expect(queues[queueId].Properties).toMatchObject({
      FifoQueue: true,
      ContentBasedDeduplication: false,
      VisibilityTimeout: 180,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(queues[dlqId].Properties).toMatchObject({ FifoQueue: true, MessageRetentionPeriod: 14 * 24 * 3600, SqsManagedSseEnabled: true });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: fnId },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    for (const id of [queueId, dlqId]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
      });
    }
  });

  it('alarms on dead letters, function errors and throttles, the API\'s 5xx rate and the pin latency p95 of this stage, without actions by default', () => {
    // Act
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const byName = Object.fromEntries(alarms.map((a) => [a.AlarmName, a]));
    // Assess
    expect(Object.keys(byName).sort()).toEqual(
      ['api-5xx-rate', 'dead-letters', 'function-errors', 'function-throttles', 'pin-latency-p95'].map((name) => `WhatsAppPin-prod-Stateless-${name}`),
    );
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1, Period: 300, TreatMissingData: 'notBreaching' });
      expect(alarm.AlarmActions).toBeUndefined();
      expect(alarm.AlarmDescription.length).toBeGreaterThan(40);
    }
    const metric = (name: string) => {
      const { Namespace, MetricName, Dimensions, Statistic, ExtendedStatistic, Threshold } = byName[`WhatsAppPin-prod-Stateless-${name}`];
      return { Namespace, MetricName, Dimensions, Statistic: Statistic ?? ExtendedStatistic, Threshold };
    };
    expect(metric('dead-letters')).toEqual({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }], Statistic: 'Maximum', Threshold: 0 });
    expect(metric('function-errors')).toEqual({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }], Statistic: 'Sum', Threshold: 0 });
    expect(metric('function-throttles')).toEqual({ Namespace: 'AWS/Lambda', MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }], Statistic: 'Sum', Threshold: 0 });
    const [stageId] = Object.keys(template.findResources('AWS::ApiGateway::Stage'));
    expect(metric('api-5xx-rate')).toEqual({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: expect.arrayContaining([{ Name: 'ApiName', Value: 'whatsapp-pin-prod' }, { Name: 'Stage', Value: { Ref: stageId } }]),
      Statistic: 'Average',
      Threshold: 0.05,
    });
    // the metric the function emits (lib/whatsapp: PinLatency in ms; service and stage dimensions from its env)
    expect(metric('pin-latency-p95')).toEqual({
      Namespace: 'WhatsAppPinApi',
      MetricName: 'PinLatency',
      Dimensions: expect.arrayContaining([{ Name: 'service', Value: 'whatsapp-pin-api' }, { Name: 'stage', Value: 'prod' }]),
      Statistic: 'p95',
      Threshold: 5000,
    });
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });

  it('sends every alarm and its recovery to an SNS topic with an email subscription when -c alarmEmail is set', () => {
    // Prepare
    const t = Template.fromStack(synthPinApp({ alarmEmail: 'ops@example.com' }).stateless);
    const [topicId] = Object.keys(t.findResources('AWS::SNS::Topic'));
    // Act
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    // Assess
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: topicId } });
    expect(alarms).toHaveLength(5);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.OKActions).toEqual([{ Ref: topicId }]);
    }
    t.hasResourceProperties('AWS::SNS::TopicPolicy', { PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] } });
    expect(t.findOutputs('AlarmTopicArn').AlarmTopicArn.Value).toEqual({ Ref: topicId });
  });

  it('outputs the API URL, the queue URL and the function for direct invocation', () => {
    // Act
    const outputs = template.findOutputs('*');
    // Assess
    expect(JSON.stringify(outputs.ApiUrl.Value)).toMatch(/^\{"Fn::Join":\["",\["https:\/\/",\{"Ref":"Api.*\/"\]\]\}$/);
    expect(outputs.QueueUrl.Value).toEqual({ Ref: queueId });
    expect(outputs.FunctionName.Value).toEqual({ Ref: fnId });
  });

  it('takes stage, device, throttles, memory, reserved concurrency, pin cap and latency alarm from -c overrides (strings, as the CLI passes them)', () => {
    // Prepare
    const custom = synthPinApp({
      stage: 'staging',
      defaultDeviceId: 'sales-phone',
      throttleRateLimit: '2.5',
      throttleBurstLimit: '4',
      memorySize: '1024',
      reservedConcurrency: '7',
      maxPinnedChats: '0',
      pinLatencyP95AlarmMs: '8000',
    });
    // Act
    const t = Template.fromStack(custom.stateless);
    // Assess
    expect(custom.stateless.stackName).toBe('WhatsAppPin-staging-Stateless');
    expect(custom.stateful.stackName).toBe('WhatsAppPin-staging-Stateful');
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      ReservedConcurrentExecutions: 7,
      Environment: { Variables: Match.objectLike({ STAGE: 'staging', DEFAULT_DEVICE_ID: 'sales-phone', MAX_PINNED_CHATS: '0' }) },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'WhatsAppPin-staging-Stateless-pin-latency-p95',
      Threshold: 8000,
      Dimensions: Match.arrayWith([{ Name: 'stage', Value: 'staging' }]),
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', Match.anyValue(), '/staging']] } });
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'staging',
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 2.5, ThrottlingBurstLimit: 4 })],
    });
  });
});
