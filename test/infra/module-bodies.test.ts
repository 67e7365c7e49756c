import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { childEnv, NODE } from '../../bench/bundles.js';
import { esbuildOptions } from '../../infra/bundling.js';
import { deferModuleBodies } from '../../infra/module-bodies.mjs';

// A small bundle with the shapes the Lambda bundle has: CommonJS modules (one with a top-level return, which an eval
// cannot run), an ES module esbuild initialises lazily (it is also imported dynamically), closures, `this` and errors.
const SOURCES: Record<string, string> = {
  'counter.cjs': '"use strict";\nlet count = 0;\nexports.next = () => ++count;\nexports.self = function () { return this === exports; };\nexports.outer = (() => this === exports)();\nexports.fail = () => { throw new Error("from counter"); };\n',
  'early.cjs': '"use strict";\nexports.before = 1;\nif (exports.before) return;\nexports.after = 2;\n',
  'lazy.mjs': 'import { next } from "./counter.cjs";\nexport class Box { constructor() { this.id = next(); } twice() { return this.id * 2; } }\nexport const made = new Box().twice();\n',
  'entry.mjs': [
    'import { next, self, fail, outer as counterOuter } from "./counter.cjs";',
    'import early from "./early.cjs";',
    'import { Box, made } from "./lazy.mjs";',
    'const later = await import("./lazy.mjs");',
    'let stack = ""; try { fail(); } catch (error) { stack = error.stack; }',
    'console.log(JSON.stringify({ first: next(), second: next(), self: self(), outer: counterOuter, early, made, box: new Box().twice(), same: later.Box === Box, stack: stack.split("\\n")[1].trim().replace(/:\\d+:\\d+\\)$/, ")") }));',
  ].join('\n'),
};

describe('module wrapper bodies compiled when they run (infra/module-bodies.mjs)', () => {
  it('runs the bundle as before, keeps what an eval cannot run, and names each module in stack traces', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'module-bodies-'));
    try {
      for (const [name, text] of Object.entries(SOURCES)) writeFileSync(join(dir, name), text);
      const outfile = join(dir, 'index.mjs');
      await build({ ...esbuildOptions, external: [], alias: {}, absWorkingDir: dir, entryPoints: [join(dir, 'entry.mjs')], outfile, logLevel: 'error' });
      const run = () => execFileSync(NODE, [outfile], { env: childEnv({}), encoding: 'utf8' }).trim();
      const before = JSON.parse(run()) as Record<string, unknown>;
      const code = readFileSync(outfile, 'utf8');
      // Act
      const deferred = deferModuleBodies(code, JSON.parse(readFileSync(`${outfile}.map`, 'utf8')));
      writeFileSync(outfile, deferred.code);
      const after = JSON.parse(run()) as Record<string, unknown>;
      // Assess
      expect(deferred.report).toMatchObject({ commonjs: 1, esm: 1, kept: 1 }); // counter.cjs and lazy.mjs; early.cjs returns early
      expect(before.stack).toMatch(/index\.mjs\)$/);
      expect(after).toEqual({ ...before, stack: String(before.stack).replace(/\(.*\)$/, '(counter.cjs)') });
      // self() is called as a plain function, so its `this` is not the exports object; a CommonJS top level's `this` is
      expect(before).toMatchObject({ first: 2, second: 3, self: false, outer: true, early: { before: 1 }, made: 2, box: 8, same: true });
      expect(deferred.code.split('\n')[0]).toContain('const $moduleBodies=[');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
