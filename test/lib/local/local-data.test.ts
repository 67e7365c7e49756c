import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { localCredentials, runningStack, writeStackFile } from '../../../lib/local/local-data.js';

let dir = '';
const made: string[] = [];
afterEach(() => {
  for (const each of made.splice(0)) rmSync(each, { recursive: true, force: true });
});
const fresh = () => {
  dir = mkdtempSync(join(tmpdir(), 'pin-local-data-'));
  made.push(dir);
  return dir;
};

describe('localCredentials', () => {
  it('generates a strong password once, stores it readable by the owner only, and reuses it', () => {
    // Prepare
    fresh();
    // Act
    const first = localCredentials(dir, {});
    const second = localCredentials(dir, {});
    const other = localCredentials(fresh(), {});
    // Assess
    expect(first).toMatchObject({ user: 'local', source: 'generated' });
    expect(first.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(statSync(first.file!).mode & 0o777).toBe(0o600);
    expect(second).toMatchObject({ basicAuth: first.basicAuth, source: 'stored' });
    expect(other.password).not.toBe(first.password);
  });

  it('takes BASIC_AUTH as is without storing it, and rejects a malformed value', () => {
    // Prepare
    fresh();
    // Act
    const fromEnv = localCredentials(dir, { BASIC_AUTH: 'alice:s3cret,bob:other' });
    // Assess
    expect(fromEnv).toEqual({ basicAuth: 'alice:s3cret,bob:other', user: 'alice', password: 's3cret', source: 'BASIC_AUTH' });
    expect(() => readFileSync(join(dir, 'basic-auth'))).toThrow();
    expect(() => localCredentials(dir, { BASIC_AUTH: 'no-colon' })).toThrow(/BASIC_AUTH must look like user:pass/);
  });
});

describe('runningStack', () => {
  it('returns the stack of a live process only', () => {
    // Prepare
    fresh();
    const stack = { pid: process.pid, mode: 'simulator' as const, url: 'http://127.0.0.1:1', env: {} };
    // Act
    writeStackFile(dir, stack);
    const live = runningStack(dir);
    writeStackFile(dir, { ...stack, pid: 2 ** 22 + 1 });
    const dead = runningStack(dir);
    // Assess
    expect(live).toEqual(stack);
    expect(dead).toBeUndefined();
  });
});
