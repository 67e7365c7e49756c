import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { removeTestApps, synthPinApp, TEST_OUTDIR_ROOT } from './cdk-app.js';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('the test apps (test/infra/cdk-app.ts)', () => {
  it('write their cloud assemblies under the test file\'s temporary folder, which is removed afterwards', () => {
    // Prepare
    const { app } = synthPinApp();
    // Act
    const assembly = app.synth();
    removeTestApps();
    // Assess
    expect(assembly.directory.startsWith(`${TEST_OUTDIR_ROOT}/`)).toBe(true);
    expect(existsSync(TEST_OUTDIR_ROOT)).toBe(false);
  });

  it('are the only apps the infra tests build (an App without outdir leaves a /tmp/cdk.out* behind)', () => {
    // Act
    const building = readdirSync(here).filter((file) => file !== 'cdk-app.ts' && /\bnew App\(/.test(readFileSync(`${here}${file}`, 'utf8')));
    // Assess
    expect(building).toEqual([]);
  });
});
