#!/usr/bin/env node
// The second half of the Lambda build, run on esbuild's output (NodejsFunction's afterBundling hook, and the
// benchmark and the bundle tests the same way). Cold import time is mostly V8 compiling JavaScript, so what a pin
// does not run should not be compiled at import:
// 1. WAProto (4.4 MB of generated protobuf code, 672 types) is left out of index.mjs by an external, and rebuilt
//    beside it as waproto.mjs + waproto-types.js, where each type is compiled on first use (infra/lazy-waproto.mjs).
// 2. whatsapp-rust-bridge is left out the same way and rebuilt as rust-bridge.mjs, its WebAssembly (two inline
//    base64 copies, SIMD and not) moved into files and handed over as bytes: no base64 decoding at import. The
//    fallback copy, which only a runtime without WebAssembly SIMD loads, is shipped compressed, stored against the
//    SIMD copy (the sections they share once).
// 3. index.mjs's ESM imports of Node built-ins, static and dynamic (the AWS SDK's `import("node:http")` for its first
//    agent), become `require`: an ESM import makes Node build the module's whole namespace, which for node:http loads
//    undici (~45 ms) and for node:fs its stream classes.
// 4. The bodies of esbuild's module wrappers become strings compiled when each module initialises, instead of being
//    preparsed at import and parsed again when they run (infra/module-bodies.mjs).
// Each step checks what it found and fails the build when the input is not what it expects.
import { build } from 'esbuild';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { extractWasm } from './extract-wasm.mjs';
import { buildLazyWaproto, sideModuleOptions, verifyLazyWaproto, WAPROTO_MODULE, WAPROTO_TYPES } from './lazy-waproto.mjs';
import { deferModuleBodies } from './module-bodies.mjs';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const BRIDGE_MODULE = 'rust-bridge.mjs';
const WASM_SIMD = 'rust-bridge-simd.wasm';
const WASM_FALLBACK = 'rust-bridge-nosimd.wasm.pack.br';

/** What the bundle leaves out for this step to build apart: the esbuild externals, and what their imports become. */
export const BUILT_APART = [
  { external: '*/WAProto/index.js', specifier: /^(?:\.\.?\/(?:[^"]*\/)?|@whiskeysockets\/baileys\/)WAProto\/index\.js$/, module: WAPROTO_MODULE },
  { external: 'whatsapp-rust-bridge', specifier: /^whatsapp-rust-bridge$/, module: BRIDGE_MODULE },
];
export const BUILT_APART_EXTERNALS = BUILT_APART.map(({ external }) => external);

/** Every file this step writes beside index.mjs. */
export const SIDE_FILES = [WAPROTO_MODULE, `${WAPROTO_MODULE}.map`, WAPROTO_TYPES, BRIDGE_MODULE, `${BRIDGE_MODULE}.map`, WASM_SIMD, WASM_FALLBACK];

/** The import records of an ES module, from esbuild's parser (not a regular expression). */
async function importsOf(file) {
  const result = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
    plugins: [{ name: 'everything-external', setup: (b) => b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'entry-point' ? undefined : { path: args.path, external: true })) }],
  });
  return Object.values(result.metafile.inputs)[0].imports;
}

/** A WebAssembly module's sections, each with its id byte and size (so that the module is `preamble + sections`). */
function wasmSections(module) {
  const sections = [];
  for (let at = 8; at < module.length; ) {
    const start = at++;
    let size = 0;
    for (let shift = 0, byte = 128; byte & 128; shift += 7) size += ((byte = module[at++]) & 127) * 2 ** shift;
    at += size;
    sections.push(module.subarray(start, at));
  }
  return sections;
}

/**
 * The fallback module stored against the SIMD one: the sections it shares with it (its data, imports, types…; all but
 * the code) as references, the rest as bytes. Layout: u32 LE header size, the JSON header (["s", index] or ["o", size]
 * per section), then the own sections' bytes.
 */
export function packAgainst(module, base) {
  if (!module.subarray(0, 8).equals(base.subarray(0, 8))) throw new Error('after-bundling: the two WebAssembly modules differ in their preamble');
  const shared = wasmSections(base);
  const own = [];
  const header = wasmSections(module).map((section) => {
    const index = shared.findIndex((candidate) => candidate.equals(section));
    if (index >= 0) return ['s', index];
    own.push(section);
    return ['o', section.length];
  });
  const json = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(4);
  size.writeUInt32LE(json.length);
  return Buffer.concat([size, json, ...own]);
}

/** The inverse of packAgainst. Its source and wasmSections' are also the runtime's (rust-bridge.mjs gets their text). */
export function unpackAgainst(packed, base) {
  const sections = wasmSections(base);
  const headerSize = packed.readUInt32LE(0);
  let own = 4 + headerSize;
  const parts = [base.subarray(0, 8)];
  for (const [kind, value] of JSON.parse(packed.subarray(4, own).toString())) {
    if (kind === 's') parts.push(sections[value]);
    else parts.push(packed.subarray(own, (own += value)));
  }
  return Buffer.concat(parts);
}

/**
 * The WebAssembly of whatsapp-rust-bridge as files: the SIMD module (the one `tryInit` tries first, and the one
 * every Node 22 on Lambda loads) as is; the fallback, which only a runtime without SIMD loads, brotli-compressed and
 * stored against the SIMD one (packAgainst: −80 KB), checked to unpack to the same bytes. The bridge decodes
 * base64 itself; its decoder is taught to pass bytes through.
 */
function bridgePlugin(outdir, found) {
  return {
    name: 'rust-bridge-wasm-files',
    setup(b) {
      b.onLoad({ filter: /[\\/]whatsapp-rust-bridge[\\/]dist[\\/]index\.js$/ }, ({ path }) => {
        let source = readFileSync(path, 'utf8');
        const decoder = 'function base64ToUint8Array(base64) {';
        if (source.split(decoder).length !== 2) throw new Error('after-bundling: whatsapp-rust-bridge no longer has base64ToUint8Array(base64)');
        source = source.replace(decoder, `${decoder}\n  if (typeof base64 !== "string") return base64;`);
        const literals = [...source.matchAll(/(tryInit|base64ToUint8Array)\("(AGFzbQ[A-Za-z0-9+/]+={0,2})"\)/g)];
        if (literals.length !== 2 || literals[0][1] !== 'tryInit' || literals[1][1] !== 'base64ToUint8Array') {
          throw new Error('after-bundling: whatsapp-rust-bridge no longer inlines its WebAssembly as tryInit("…") then base64ToUint8Array("…")');
        }
        const [simd, fallback] = literals.map((match) => Buffer.from(match[2], 'base64'));
        writeFileSync(join(outdir, WASM_SIMD), simd);
        const packed = packAgainst(fallback, simd);
        const quality = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: packed.length };
        const stored = brotliCompressSync(packed, { params: quality });
        if (!unpackAgainst(brotliDecompressSync(stored), simd).equals(fallback)) throw new Error('after-bundling: the packed fallback WebAssembly does not unpack to itself');
        writeFileSync(join(outdir, WASM_FALLBACK), stored);
        source = source
          .replace(literals[0][0], `tryInit($wasm(${JSON.stringify(`./${WASM_SIMD}`)}))`)
          .replace(literals[1][0], `base64ToUint8Array($fallbackWasm(${JSON.stringify(`./${WASM_FALLBACK}`)}, ${JSON.stringify(`./${WASM_SIMD}`)}))`);
        const loader = `import { createRequire as $createRequire } from "node:module";
const $require = $createRequire(import.meta.url);
const $wasm = (file) => $require("node:fs").readFileSync(new URL(file, import.meta.url));
${wasmSections.toString()}
${unpackAgainst.toString().replace(/^export /, '')}
const $fallbackWasm = (file, base) => unpackAgainst($require("node:zlib").brotliDecompressSync($wasm(file)), $wasm(base));
`;
        found.push(path);
        return { contents: `${loader}${source}`, loader: 'js' };
      });
    },
  };
}

/** What a dynamic import of a built-in becomes: `import("node:http")` → `$bim("node:http")` (no longer, so columns stay). */
const DYNAMIC_IMPORT = '$bim';

/**
 * `import X from "node:http"` and `import { a as b } from "fs"` in `code` (esbuild's output) become `const`
 * declarations from `require` at the end of the first line (the banner, which defines `require`), each statement
 * blanked to spaces so that every other column, and the source map, stays where it was. A namespace import
 * (`import * as X`) becomes the module object only where X is used as `X.name` alone (a namespace differs in its
 * `default`); bare imports are kept. A dynamic `import("node:http")` (the AWS SDK's, when it makes its first HTTP
 * agent: 49 ms against 7 ms by require, undici included) becomes `$bim("node:http")`, padded to its length: a promise
 * of the module object under a namespace's shape (its exports, and itself as `default`). Returns the new code, the
 * number of statements rewritten and of dynamic imports.
 */
export function builtinImportsToRequire(code) {
  const firstLine = code.indexOf('\n');
  const banner = code.slice(0, firstLine);
  if (!/^import[^\n]*;\s*const require\s*=[^\n]*;$/.test(banner)) throw new Error('after-bundling: the bundle does not start with the banner that defines require');
  const declarations = [];
  let rewritten = 0;
  const onlyMembers = (name) => {
    const uses = [...code.matchAll(new RegExp(`(?<![\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])(.?)([\\w$]*)`, 'g'))];
    // The import statement itself is one use (followed by ` from`); every other one must be `X.member`, not `X.default`.
    return uses.filter(([, next, member]) => next !== '.' || member === 'default').length === 1;
  };
  let body = code.slice(firstLine).replace(/\bimport\s*\*\s*as\s+([A-Za-z_$][\w$]*)\s*from\s*"([^"]+)"\s*;?/g, (statement, name, specifier) => {
    if (!isBuiltin(specifier) || !onlyMembers(name)) return statement;
    declarations.push(`const ${name}=require(${JSON.stringify(specifier)});`);
    rewritten++;
    return ' '.repeat(statement.length);
  });
  body = body.replace(/\bimport\s*([A-Za-z_$][\w$]*)?\s*(,\s*)?(\{[^{}]*\})?\s*from\s*"([^"]+)"\s*;?/g, (statement, name, comma, named, specifier) => {
    if (!isBuiltin(specifier) || (!name && !named) || (name && named && !comma) || (!name && comma)) return statement;
    const source = `require(${JSON.stringify(specifier)})`;
    if (name) declarations.push(`const ${name}=${source};`);
    if (named) {
      const pairs = named.slice(1, -1).split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => {
        const [imported, local = imported] = entry.split(/\s+as\s+/);
        if (imported === 'default') {
          declarations.push(`const ${local}=${source};`);
          return undefined;
        }
        return imported === local ? local : `${imported}:${local}`;
      }).filter(Boolean);
      if (pairs.length) declarations.push(`const{${pairs.join(',')}}=${source};`);
    }
    rewritten++;
    return ' '.repeat(statement.length);
  });
  if (new RegExp(`(?<![\\w$])\\${DYNAMIC_IMPORT}(?![\\w$])`).test(code)) throw new Error(`after-bundling: the bundle already uses the name ${DYNAMIC_IMPORT}`);
  let dynamic = 0;
  body = body.replace(/(?<![\w$.])import\(\s*"([^"]+)"\s*\)/g, (call, specifier) => {
    if (!isBuiltin(specifier)) return call;
    dynamic++;
    const replacement = `${DYNAMIC_IMPORT}(${JSON.stringify(specifier)})`;
    return `${replacement}${' '.repeat(call.length - replacement.length)}`;
  });
  if (dynamic) declarations.push(`const ${DYNAMIC_IMPORT}=async(s)=>{const m=require(s);return Object.create(m,{default:{value:m,enumerable:!0}})};`);
  return { code: `${banner}${declarations.join('')}${body}`, rewritten, dynamic };
}

/**
 * Runs every step on `bundlePath` (index.mjs, with index.mjs.map beside it) and writes the side files. `verify`
 * (default on) compares the lazy WAProto with the installed one; `builtins: false` keeps the built-in imports and
 * `moduleBodies: false` the module wrappers as they are (to measure what each is worth).
 */
export async function afterBundling(bundlePath, { target, verify = true, builtins: rewriteBuiltins = true, moduleBodies = true }) {
  const outdir = dirname(bundlePath);
  const before = await importsOf(bundlePath);
  let code = readFileSync(bundlePath, 'utf8');

  // 1 + 2: the modules built apart, and the bundle's imports of them.
  const require = createRequire(join(PROJECT_ROOT, 'package.json'));
  const baileys = dirname(require.resolve('@whiskeysockets/baileys/package.json'));
  const waprotoFile = join(baileys, 'WAProto', 'index.js');
  const waproto = await buildLazyWaproto({ waprotoFile, outdir, target });
  const bridgeSources = [];
  await build({
    ...sideModuleOptions(target, join(outdir, BRIDGE_MODULE)),
    stdin: { contents: 'export * from "whatsapp-rust-bridge";', resolveDir: baileys, sourcefile: 'rust-bridge-entry.js', loader: 'js' },
    plugins: [bridgePlugin(outdir, bridgeSources)],
  });
  if (bridgeSources.length !== 1) throw new Error('after-bundling: whatsapp-rust-bridge was not rebuilt');
  const counts = new Map(BUILT_APART.map((part) => [part.module, 0]));
  code = code.replace(/(\bfrom\s*|\bimport\s*)"([^"]+)"/g, (whole, keyword, specifier) => {
    const part = BUILT_APART.find((candidate) => candidate.specifier.test(specifier));
    if (!part) return whole;
    const replacement = `./${part.module}`;
    if (replacement.length > specifier.length) throw new Error(`after-bundling: "${replacement}" is longer than "${specifier}"`);
    counts.set(part.module, counts.get(part.module) + 1);
    return `${keyword}"${replacement}"${' '.repeat(specifier.length - replacement.length)}`;
  });

  // 3: built-in imports.
  const builtins = rewriteBuiltins ? builtinImportsToRequire(code) : { code, rewritten: 0, dynamic: 0 };
  code = builtins.code;

  // 4: module wrapper bodies, and the source map shifted to match.
  let deferred;
  if (moduleBodies) {
    const mapPath = `${bundlePath}.map`;
    const map = existsSync(mapPath) ? JSON.parse(readFileSync(mapPath, 'utf8')) : { version: 3, sources: [], names: [], mappings: '' };
    const result = deferModuleBodies(code, map);
    code = result.code;
    if (existsSync(mapPath)) writeFileSync(mapPath, JSON.stringify(result.map));
    deferred = result.report;
  }
  writeFileSync(bundlePath, code);
  const inlineWasm = extractWasm(bundlePath); // anything else that inlines WebAssembly

  // The parser's view, before and after: every import of a part now goes to its module, none is left behind.
  const after = await importsOf(bundlePath);
  const statements = (records) => records.filter((record) => record.kind === 'import-statement');
  for (const part of BUILT_APART) {
    const expected = statements(before).filter((record) => part.specifier.test(record.path)).length;
    const now = statements(after).filter((record) => record.path === `./${part.module}`).length;
    if (expected !== counts.get(part.module) || now !== expected || after.some((record) => part.specifier.test(record.path))) {
      throw new Error(`after-bundling: ${part.module}: ${expected} imports in the bundle, ${counts.get(part.module)} rewritten, ${now} found after`);
    }
  }
  const relative = after.filter((record) => /^\.\.?\//.test(record.path) && !BUILT_APART.some((part) => record.path === `./${part.module}`));
  if (relative.length) throw new Error(`after-bundling: the bundle still imports ${relative.map((record) => record.path).join(', ')}`);
  const builtinStatements = (records) => statements(records).filter((record) => isBuiltin(record.path));
  if (builtinStatements(before).length - builtinStatements(after).length !== builtins.rewritten) throw new Error('after-bundling: the built-in imports rewritten do not match the parser');
  const dynamicBuiltins = (records) => records.filter((record) => record.kind === 'dynamic-import' && isBuiltin(record.path));
  if (rewriteBuiltins && (dynamicBuiltins(after).length || dynamicBuiltins(before).length !== builtins.dynamic)) throw new Error('after-bundling: the dynamic built-in imports rewritten do not match the parser');
  if (verify) await verifyLazyWaproto({ waprotoFile, outdir });
  return { waprotoTypes: waproto.types, waprotoMethods: waproto.methods, builtinImports: builtins.rewritten, dynamicBuiltinImports: builtins.dynamic, builtinImportsKept: builtinStatements(after).map((record) => record.path), moduleBodies: deferred, inlineWasm, imports: Object.fromEntries(counts) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [bundle, ...flags] = process.argv.slice(2);
  const flag = (name) => flags[flags.indexOf(name) + 1];
  if (!bundle || !flags.includes('--target')) throw new Error('usage: node infra/after-bundling.mjs <index.mjs> --target node22');
  const report = await afterBundling(bundle, { target: flag('--target') });
  console.log(`after-bundling: ${JSON.stringify(report)}`);
}
