#!/usr/bin/env node
// Moves WebAssembly modules inlined as base64 string literals out of a bundle into .wasm files beside it. V8 then
// no longer scans them as part of the module at cold start, only the copy actually used is read, and the binary
// zips smaller than its base64. whatsapp-rust-bridge, the one such package today, is built apart and hands its
// modules over as bytes (infra/after-bundling.mjs); this step, run by after-bundling.mjs on index.mjs, only
// catches a package that starts inlining WebAssembly later.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A base64 string literal that decodes to a WebAssembly module (magic "\0asm" = "AGFzbQ"). */
const WASM_LITERAL = /"(AGFzbQ[A-Za-z0-9+/]+={0,2})"/g;

/** Rewrites `bundlePath` in place; returns the files written. */
export function extractWasm(bundlePath) {
  const source = readFileSync(bundlePath, 'utf8');
  const files = [];
  const rewritten = source.replace(WASM_LITERAL, (_literal, base64) => {
    const name = `${basename(bundlePath).replace(/\.[cm]?js$/, '')}-${files.length}.wasm`;
    writeFileSync(join(dirname(bundlePath), name), Buffer.from(base64, 'base64'));
    files.push(name);
    // The bridge decodes base64 itself (atob): hand it the same string, read from the file only when used.
    return `require("node:fs").readFileSync(new URL(${JSON.stringify(`./${name}`)},import.meta.url)).toString("base64")`;
  });
  if (files.length) writeFileSync(bundlePath, rewritten);
  return files;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [bundle] = process.argv.slice(2);
  if (!bundle) throw new Error('usage: node infra/extract-wasm.mjs <bundle.mjs>');
  console.log(`extract-wasm: ${extractWasm(bundle).join(', ') || 'no inline WebAssembly found'}`);
}
