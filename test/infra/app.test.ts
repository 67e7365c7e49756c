import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIDE_FILES } from '../../infra/after-bundling.mjs';
import { EXTERNAL_MODULES } from '../../infra/bundling.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('cdk synth (the CLI, offline, as an operator runs it)', () => {
  it('exits 0 with cdk-nag and CloudFormation validation on, and bundles the function for real', () => {
    // Prepare: no AWS credentials or account reachable; CDK's default template validation on.
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-synth-'));
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', CDK_DISABLE_VERSION_CHECK: 'true' };
    delete env.CDK_VALIDATION;
    try {
      // Act
      const run = spawnSync('npx', ['cdk', 'synth', '-q', '--no-notices', '-o', outdir], { cwd: root, env, encoding: 'utf8', timeout: 170_000 });
      // Assess: success, every stack, and a clean validation report
      expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
      const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
      expect(Object.keys(manifest.artifacts).filter((a) => manifest.artifacts[a].type === 'aws:cloudformation:stack').sort()).toEqual([
        'WhatsAppPin-prod-Stateful',
        'WhatsAppPin-prod-Stateless',
      ]);
      expect(manifest.artifacts['WhatsAppPin-prod-Stateless'].dependencies).toContain('WhatsAppPin-prod-Stateful');
      const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
      for (const plugin of report.pluginReports) expect({ plugin: plugin.pluginName, violations: plugin.violations }).toEqual({ plugin: plugin.pluginName, violations: [] });
      // (a plugin with nothing to report, like a clean CloudFormation Validate, is left out of the file)
      expect(report.pluginReports.map((p: { pluginName: string }) => p.pluginName)).toContain('AwsSolutions');

      // Assess: the bundle — ESM with its require banner, linked source map, SDK inside, media packages outside
      const [asset] = readdirSync(outdir).filter((f) => f.startsWith('asset.') && existsSync(join(outdir, f, 'index.mjs')));
      const bundle = join(outdir, asset, 'index.mjs');
      const bytes = statSync(bundle).size;
      expect(bytes).toBeGreaterThan(100 * 1024);
      expect(bytes).toBeLessThan(8 * 1024 * 1024);
      const code = readFileSync(bundle, 'utf8');
      expect(code.startsWith("import { createRequire as __pinCreateRequire } from 'node:module';")).toBe(true);
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map')).toBe(true);
      const sources: string[] = JSON.parse(readFileSync(`${bundle}.map`, 'utf8')).sources;
      expect(sources.some((s) => s.endsWith('functions/pin-chat.ts'))).toBe(true);
      expect(sources.some((s) => s.includes('node_modules/@aws-sdk/client-secrets-manager/'))).toBe(true);
      expect(sources.some((s) => s.includes('node_modules/@aws-sdk/client-sqs/'))).toBe(true); // the dead-letter queue adapter
      for (const external of EXTERNAL_MODULES) expect(sources.filter((s) => s.includes(`node_modules/${external}/`))).toEqual([]);
      // The afterBundling hook ran: WAProto and the bridge are beside index.mjs, built apart (infra/after-bundling.mjs)
      expect(readdirSync(join(outdir, asset)).sort()).toEqual(['index.mjs', 'index.mjs.map', ...SIDE_FILES].sort());
      expect(sources.filter((s) => s.includes('WAProto/') || s.includes('whatsapp-rust-bridge/'))).toEqual([]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 180_000);
});
