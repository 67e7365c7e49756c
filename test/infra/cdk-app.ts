/**
 * Builds the CDK app the way `cdk synth` does (cdk.json's context, then `-c` overrides), offline.
 * Bundling is skipped unless asked for: the assertion tests read template properties (handler,
 * runtime, environment…) that do not depend on the bundle; one test bundles for real.
 * CDK's built-in CloudFormation linter is also skipped here (it costs ~12 s per jest worker to
 * start); the `cdk synth` test runs the real CLI with it, with cdk-nag and with bundling.
 * Every app writes its cloud assembly under one temporary folder per test file, removed when the file is
 * done: an App without `outdir` makes a new /tmp/cdk.out* that nothing removes.
 */
import { afterAll } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { definePinApp, type PinApp } from '../../infra/pin-app.js';

process.env.CDK_VALIDATION = 'false';

export const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

/** Where this test file's apps write their cloud assemblies. */
export const TEST_OUTDIR_ROOT = mkdtempSync(join(tmpdir(), 'pin-cdk-test-'));
export const removeTestApps = () => rmSync(TEST_OUTDIR_ROOT, { recursive: true, force: true });
afterAll(removeTestApps);

export function cdkContext(overrides: Record<string, unknown> = {}, { bundle = false } = {}): Record<string, unknown> {
  return { ...cdkJson.context, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...overrides };
}

/** An App with cdk.json's context (and overrides), writing under TEST_OUTDIR_ROOT. */
export function testApp(overrides: Record<string, unknown> = {}, options: { bundle?: boolean } = {}): App {
  return new App({ context: cdkContext(overrides, options), outdir: mkdtempSync(join(TEST_OUTDIR_ROOT, 'cdk.out-')) });
}

export function synthPinApp(overrides: Record<string, unknown> = {}, options: { bundle?: boolean } = {}): PinApp & { app: App } {
  const app = testApp(overrides, options);
  return { app, ...definePinApp(app) };
}
