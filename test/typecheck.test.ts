import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `npm run typecheck` as one test file among the others (it runs beside them instead of before them).
describe('the TypeScript project', () => {
  it('type-checks (tsc --noEmit -p .)', () => {
    // Act
    const run = spawnSync('npm', ['run', '--silent', 'typecheck'], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', timeout: 120_000 });
    // Assess
    expect(`${run.stdout}${run.stderr}`.trim()).toBe('');
    expect(run.status).toBe(0);
  }, 120_000);
});
