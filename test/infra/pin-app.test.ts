import { describe, expect, it } from '@jest/globals';
import { Validations, type App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PinApp } from '../../infra/pin-app.js';
import { synthPinApp } from './cdk-app.js';

// Prepare (shared): the app exactly as `cdk synth` builds it.
const pinApp = synthPinApp();
const stateful = Template.fromStack(pinApp.stateful).toJSON();
const stateless = Template.fromStack(pinApp.stateless).toJSON();

type Json = Record<string, any>;

/** "<stack>/<logicalId>" of what a Resource value points at; weak cross-stack references are followed to the producer. */
function target(value: unknown): string {
  const v = value as Json;
  if (value === '*') return '*';
  if (v['Fn::GetStackOutput']) {
    const { StackName, OutputName } = v['Fn::GetStackOutput'];
    expect(StackName).toBe(pinApp.stateful.stackName);
    return `stateful/${target(stateful.Outputs[OutputName].Value).split('/')[1]}`;
  }
  if (v['Fn::GetAtt'] && v['Fn::GetAtt'][1] === 'Arn') return `stateless/${v['Fn::GetAtt'][0]}`;
  if (v.Ref) return `stateless/${v.Ref}`;
  throw new Error(`not a single resource: ${JSON.stringify(value)}`);
}

function typeOf(ref: string): string {
  const [stack, id] = ref.split('/');
  return (stack === 'stateful' ? stateful : stateless).Resources[id].Type;
}

const viaService = (service: string) => ({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
const asList = (x: unknown) => (Array.isArray(x) ? x : [x]);

describe('the pin app', () => {
  it('grants the function each action on exactly its resource, and "*" only where AWS has no resource-level permission (X-Ray)', () => {
    // Prepare
    const policies = [stateful, stateless].flatMap((t) => Object.values(t.Resources as Json).filter((r) => r.Type === 'AWS::IAM::Policy'));
    const fn = Object.values(stateless.Resources as Json).find((r) => r.Type === 'AWS::Lambda::Function');
    // Act: every statement as (actions, the one resource it names, condition)
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    const grants = statements.map((s) => {
      expect(s.Effect).toBe('Allow');
      expect(Array.isArray(s.Resource)).toBe(false); // one statement, one resource
      const ref = target(s.Resource);
      return { actions: asList(s.Action).sort(), resource: ref === '*' ? '*' : typeOf(ref), ref, condition: s.Condition };
    });
    // Assess: the complete list, nothing more
    expect(policies).toHaveLength(1);
    expect(grants.map(({ actions, resource, condition }) => ({ actions, resource, condition }))).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resource: 'AWS::Logs::LogGroup', condition: undefined },
      { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resource: '*', condition: undefined },
      {
        // what a pin does: GetItem, BatchGetItem, Query, PutItem, UpdateItem, DeleteItem, TransactWriteItems (= its per-item actions)
        actions: ['dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        resource: 'AWS::DynamoDB::Table',
        condition: undefined,
      },
      { actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], resource: 'AWS::KMS::Key', condition: viaService('dynamodb') },
      { actions: ['secretsmanager:GetSecretValue'], resource: 'AWS::SecretsManager::Secret', condition: undefined },
      { actions: ['kms:Decrypt'], resource: 'AWS::KMS::Key', condition: viaService('secretsmanager') },
      { actions: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], resource: 'AWS::SQS::Queue', condition: undefined },
      { actions: ['sqs:SendMessage'], resource: 'AWS::SQS::Queue', condition: undefined },
    ]);
    // … and the resources are the ones the function is configured with, not just resources of the right type.
    const byResource = Object.fromEntries(grants.map((g) => [g.actions[0], g.ref]));
    expect(byResource['logs:CreateLogStream']).toBe(`stateless/${fn.Properties.LoggingConfig.LogGroup.Ref}`);
    expect(byResource['dynamodb:BatchGetItem']).toBe(target(fn.Properties.Environment.Variables.SESSION_TABLE));
    expect(byResource['secretsmanager:GetSecretValue']).toBe(target(fn.Properties.Environment.Variables.API_CREDENTIALS_SECRET_ID));
    const mapping = Object.values(stateless.Resources as Json).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(byResource['sqs:ChangeMessageVisibility']).toBe(target(mapping.Properties.EventSourceArn));
    // SendMessage: on the source queue's dead-letter queue only, the one DEAD_LETTER_QUEUE_URL names
    const source = stateless.Resources[byResource['sqs:ChangeMessageVisibility'].split('/')[1]];
    expect(byResource['sqs:SendMessage']).toBe(target(source.Properties.RedrivePolicy.deadLetterTargetArn));
    expect(byResource['sqs:SendMessage']).toBe(target(fn.Properties.Environment.Variables.DEAD_LETTER_QUEUE_URL));
    const table = stateful.Resources[byResource['dynamodb:BatchGetItem'].split('/')[1]];
    expect(`stateful/${table.Properties.SSESpecification.KMSMasterKeyId['Fn::GetAtt'][0]}`).toBe(byResource['kms:Decrypt']);
  });

  it.each([
    ['by default', {}, [['lambda.amazonaws.com', 0]]],
    [
      'with -c apiGatewayCloudWatchRole=true',
      { apiGatewayCloudWatchRole: 'true' },
      [
        ['apigateway.amazonaws.com', 1],
        ['lambda.amazonaws.com', 0],
      ],
    ],
  ])('has no other identity policy %s: roles carry no inline policies, only the opt-in API Gateway logging role an AWS-managed one', (_case, context, expected) => {
    // Prepare
    const app = synthPinApp(context);
    const templates = [app.stateful, app.stateless].map((stack) => Template.fromStack(stack).toJSON());
    // Act
    const roles = templates.flatMap((t) => Object.entries(t.Resources as Json).filter(([, r]) => r.Type === 'AWS::IAM::Role'));
    // Assess
    for (const [, role] of roles) expect(role.Properties.Policies).toBeUndefined();
    expect(roles.map(([, r]) => [r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service, r.Properties.ManagedPolicyArns?.length ?? 0]).sort()).toEqual(expected);
    for (const t of templates) expect(Object.values(t.Resources as Json).some((r) => r.Type === 'AWS::IAM::ManagedPolicy')).toBe(false);
  });

  it('keeps resource policies closed: the key trusts only its account, the queues only deny non-TLS access to themselves', () => {
    // Act
    const [key] = Object.values(stateful.Resources as Json).filter((r) => r.Type === 'AWS::KMS::Key');
    const queuePolicies = Object.values(stateless.Resources as Json).filter((r) => r.Type === 'AWS::SQS::QueuePolicy');
    // Assess: a key policy names its own key as "*" (the only form KMS accepts)
    const accountRoot = { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } };
    const keyStatements = key.Properties.KeyPolicy.Statement as Json[];
    for (const statement of keyStatements) expect(statement).toMatchObject({ Effect: 'Allow', Principal: accountRoot, Resource: '*' });
    // the account's IAM policies decide (default key policy), and CDK's grant for secrets is usable through Secrets Manager only
    expect(keyStatements.map((st) => st.Condition)).toEqual([undefined, viaService('secretsmanager')]);
    expect(queuePolicies).toHaveLength(2);
    for (const policy of queuePolicies) {
      const [statement, ...others] = policy.Properties.PolicyDocument.Statement;
      expect(others).toEqual([]);
      expect(statement).toMatchObject({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [policy.Properties.Queues[0].Ref, 'Arn'] });
    }
  });

  it('deploys the stateful stack before the stateless one that reads its outputs', () => {
    // Act
    const dependencies = pinApp.stateless.dependencies;
    // Assess
    expect(dependencies).toEqual([pinApp.stateful]);
    expect(pinApp.stateful.dependencies).toEqual([]);
  });

  it('passes cdk-nag AwsSolutions with no unacknowledged finding', () => {
    // Act
    const report = nagReport(pinApp);
    // Assess
    expect(report.violations).toEqual([]);
    expect(report.conclusion).toBe('success');
  });

  it('passes cdk-nag with every optional resource on too (API Gateway CloudWatch role, alarm topic), no acknowledgement stale', () => {
    // Prepare
    const full = synthPinApp({ apiGatewayCloudWatchRole: 'true', alarmEmail: 'ops@example.com' });
    // Act
    const { report, declared, used } = acknowledgements(full);
    // Assess
    expect(report.violations).toEqual([]);
    expect(used).toContain(
      'WhatsAppPin-prod-Stateless/Api AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    );
    expect(declared).toEqual(used);
  });

  it('acknowledges only reviewed findings, each with a reason, and no acknowledgement is stale', () => {
    // Act
    const { report, declared, used } = acknowledgements(pinApp);
    // Assess
    expect(used).toEqual(
      [
        'WhatsAppPin-prod-Stateful/ApiPasswordSeed AwsSolutions::AwsSolutions-SMG4',
        'WhatsAppPin-prod-Stateful/ApiCredentials AwsSolutions::AwsSolutions-SMG4',
        'WhatsAppPin-prod-Stateless/PinChat/Function AwsSolutions::AwsSolutions-L1',
        'WhatsAppPin-prod-Stateless/PinChat/Role AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        'WhatsAppPin-prod-Stateless/Api AwsSolutions::AwsSolutions-APIG2',
        'WhatsAppPin-prod-Stateless/Api/Default/chat/{chat_jid}/pin/POST AwsSolutions::AwsSolutions-APIG4',
        'WhatsAppPin-prod-Stateless/Api/Default/chat/{chat_jid}/pin/POST AwsSolutions::AwsSolutions-COG4',
        'WhatsAppPin-prod-Stateless/Api/Default/openapi.yaml/GET AwsSolutions::AwsSolutions-APIG4',
        'WhatsAppPin-prod-Stateless/Api/Default/openapi.yaml/GET AwsSolutions::AwsSolutions-COG4',
      ].sort(),
    );
    expect(declared).toEqual(used);
    for (const v of report.suppressedViolations as Json[]) expect(v.reason.length).toBeGreaterThan(80);
  });
});

/** The acknowledgements an app declares and those cdk-nag used ("<path> <rule>", sorted, distinct). */
function acknowledgements(app: PinApp & { app: App }) {
  const declared = app.app.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => [c.node.path, m.data as Json] as const))
    .flatMap(([path, data]) => Object.keys(data).map((id) => `${path} ${id}`));
  const report = nagReport(app);
  const used = [...new Set((report.suppressedViolations as Json[]).map((v) => `${v.acknowledgedAt} ${v.acknowledgedId}`))].sort();
  return { report, declared: [...new Set(declared)].sort(), used };
}

/** AwsSolutions' part of the validation report `cdk synth` writes (synthesis throws on any unacknowledged finding). */
function nagReport(app: { app: App }): Json {
  const assembly = app.app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
  return report.pluginReports.find((r: Json) => r.pluginName === 'AwsSolutions');
}
