import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv, NODE } from '../../bench/bundles.js';
import { builtinImportsToRequire } from '../../infra/after-bundling.mjs';
import { ESM_REQUIRE_BANNER } from '../../infra/bundling.js';

/** Runs `code` as an ES module in a fresh Node 22 process; what it prints, and the built-in modules Node loaded. */
function run(code: string): { printed: unknown; loaded: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'after-bundling-'));
  try {
    const file = join(dir, 'index.mjs');
    writeFileSync(file, `${code}\nconsole.log(JSON.stringify({ printed: globalThis.printed, loaded: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')) }));`);
    return JSON.parse(execFileSync(NODE, [file], { env: childEnv({}), encoding: 'utf8' })) as { printed: unknown; loaded: string[] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('built-in imports as require (infra/after-bundling.mjs)', () => {
  // The AWS SDK's shape (node-http-handler's first agent) and Baileys' (its media download), minified as esbuild prints them.
  const body = [
    'const d=await import("node:http"),{Agent:p,request:f}=d.default??d;',
    'const o=true?await import("https"):await import("http");',
    'const r=await import("node:async_hooks");',
    'const own=await import("data:text/javascript,export const x=1");',
    'globalThis.printed={agent:p===(await import("node:http")).Agent,request:typeof f,https:typeof o.request,als:typeof r.AsyncLocalStorage,own:own.x};',
  ].join('');

  it('turns dynamic imports of built-ins into requires of the same module, each in its own columns', () => {
    // Act
    const { code, dynamic } = builtinImportsToRequire(`${ESM_REQUIRE_BANNER}\n${body}`);
    // Assess
    expect(dynamic).toBe(5);
    const [banner, rewritten] = [code.slice(0, code.indexOf('\n')), code.slice(code.indexOf('\n') + 1)];
    expect(banner.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(rewritten).toHaveLength(body.length);
    expect(rewritten).not.toMatch(/import\("(node:)?(https?|async_hooks)"\)/);
    expect(rewritten).toContain('import("data:text/javascript');
  });

  it('runs as before, without the ESM namespace of node:http (which loads undici)', () => {
    // Prepare
    const { code } = builtinImportsToRequire(`${ESM_REQUIRE_BANNER}\n${body}`);
    // Act
    const [before, after] = [run(`${ESM_REQUIRE_BANNER}\n${body}`), run(code)];
    // Assess
    expect(after.printed).toEqual(before.printed);
    expect(after.printed).toEqual({ agent: true, request: 'function', https: 'function', als: 'function', own: 1 });
    expect(before.loaded.some((m) => m.includes('undici'))).toBe(true);
    expect(after.loaded.filter((m) => m.includes('undici'))).toEqual([]);
  });

  it('refuses a bundle that already uses its helper name', () => {
    // Act / Assess
    expect(() => builtinImportsToRequire(`${ESM_REQUIRE_BANNER}\nconst $bim=1;await import("node:http");`)).toThrow(/already uses the name \$bim/);
  });
});
