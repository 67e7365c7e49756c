/**
 * Builds the CDK app the way `cdk synth` does (cdk.json's context, then `-c` overrides), offline.
 * Bundling is skipped unless asked for: the assertion tests read template properties (handler,
 * runtime, environment…) that do not depend on the bundle; one test bundles for real.
 * CDK's built-in CloudFormation linter is also skipped here (it costs ~12 s per jest worker to
 * start); the `cdk synth` test runs the real CLI with it, with cdk-nag and with bundling.
 */
import { App } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { definePinApp, type PinApp } from '../../infra/pin-app.js';

process.env.CDK_VALIDATION = 'false';

export const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

export function cdkContext(overrides: Record<string, unknown> = {}, { bundle = false } = {}): Record<string, unknown> {
  return { ...cdkJson.context, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...overrides };
}

export function synthPinApp(overrides: Record<string, unknown> = {}, options: { bundle?: boolean } = {}): PinApp & { app: App } {
  const app = new App({ context: cdkContext(overrides, options) });
  return { app, ...definePinApp(app) };
}
