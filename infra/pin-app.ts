/**
 * The whole app: both stacks joined by typed props, cdk-nag's AwsSolutions pack on every synth
 * (an unacknowledged finding fails `cdk synth`), and each acknowledgement with its reason.
 */
import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings, type Settings } from './settings.js';
import { StatefulStack } from './stateful-stack.js';
import { StatelessStack } from './stateless-stack.js';

export interface PinApp {
  settings: Settings;
  stateful: StatefulStack;
  stateless: StatelessStack;
}

export function definePinApp(app: App): PinApp {
  const settings = readSettings(app.node);
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
  const prefix = `WhatsAppPin-${settings.stage}`;
  const stateful = new StatefulStack(app, `${prefix}-Stateful`, { env, description: 'WhatsApp pin API: sessions table and its KMS key (both retained), API credentials' });
  const stateless = new StatelessStack(app, `${prefix}-Stateless`, {
    env,
    description: 'WhatsApp pin API: function, REST API, WAF, FIFO queue',
    settings,
    data: stateful.data,
  });
  // Weak cross-stack references (cdk.json's recommended flags) read outputs with Fn::GetStackOutput and
  // add no stack dependency of their own: deploy order is declared here.
  stateless.addStackDependency(stateful, 'reads the table, key and secret outputs');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { settings, stateful, stateless };
}
