import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { MAX_BODY_BYTES } from '../../infra/stateless-stack.js';
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
      ['API_CREDENTIALS_SECRET_ID', 'CHECK_CHAT_EXISTS', 'DEFAULT_DEVICE_ID', 'PIN_TIMEOUT_MS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME', 'SESSION_TABLE'].sort(),
    );
    expect(env).toMatchObject({ DEFAULT_DEVICE_ID: 'default', CHECK_CHAT_EXISTS: 'true', PIN_TIMEOUT_MS: '20000' });
    expect(env.WHATSAPP_WS_URL).toBeUndefined();
    const stateful = Template.fromStack(defaults.stateful).toJSON().Resources;
    const tableRef = producedBy(env.SESSION_TABLE) as { Ref: string };
    const secretRef = producedBy(env.API_CREDENTIALS_SECRET_ID) as { Ref: string };
    expect(stateful[tableRef.Ref].Type).toBe('AWS::DynamoDB::Table');
    expect(stateful[secretRef.Ref].Type).toBe('AWS::SecretsManager::Secret');
    expect(stateful[secretRef.Ref].Properties.GenerateSecretString).toBeUndefined(); // the credentials, not the seed
  });

  it('routes POST /chat/{chat_jid}/pin to the function (proxy integration), nothing else', () => {
    // Act
    const methods = template.findResources('AWS::ApiGateway::Method');
    const resources = template.findResources('AWS::ApiGateway::Resource');
    // Assess
    expect(Object.values(resources).map((r) => r.Properties.PathPart)).toEqual(['chat', '{chat_jid}', 'pin']);
    expect(Object.values(methods)).toHaveLength(1);
    const [method] = Object.values(methods);
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
    template.hasResourceProperties('AWS::ApiGateway::Account', { CloudWatchRoleArn: Match.anyValue() });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: Match.anyValue() }, '/prod']] },
      RetentionInDays: 30,
    });
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

  it('outputs the API URL, the queue URL and the function for direct invocation', () => {
    // Act
    const outputs = template.findOutputs('*');
    // Assess
    expect(JSON.stringify(outputs.ApiUrl.Value)).toMatch(/^\{"Fn::Join":\["",\["https:\/\/",\{"Ref":"Api.*\/"\]\]\}$/);
    expect(outputs.QueueUrl.Value).toEqual({ Ref: queueId });
    expect(outputs.FunctionName.Value).toEqual({ Ref: fnId });
  });

  it('takes stage, device, throttles, memory and reserved concurrency from -c overrides (strings, as the CLI passes them)', () => {
    // Prepare
    const custom = synthPinApp({ stage: 'staging', defaultDeviceId: 'sales-phone', throttleRateLimit: '2.5', throttleBurstLimit: '4', memorySize: '1024', reservedConcurrency: '7' });
    // Act
    const t = Template.fromStack(custom.stateless);
    // Assess
    expect(custom.stateless.stackName).toBe('WhatsAppPin-staging-Stateless');
    expect(custom.stateful.stackName).toBe('WhatsAppPin-staging-Stateful');
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      ReservedConcurrentExecutions: 7,
      Environment: { Variables: Match.objectLike({ DEFAULT_DEVICE_ID: 'sales-phone' }) },
    });
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'staging',
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 2.5, ThrottlingBurstLimit: 4 })],
    });
  });
});
