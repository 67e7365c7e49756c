// WAProto, Baileys' protobufjs static module (4.4 MB of generated JavaScript, 672 message and enum types), rebuilt
// so that its code is compiled only when something first uses it. Every type still ships; a pin uses a few dozen
// (Baileys itself reads 16 at import: a few nested enums and the media message types).
//
// How: the generated source nests one `Owner.Name = (function() { … })();` block per type. Each block becomes a
// factory: its body, with its nested blocks replaced by `$lazy(Owner, "Name", id)` and its large methods (encode,
// decode, fromObject, toObject) by `Owner.name = $method(id, Owner, arity)`, is minified and written on line `id` of
// waproto-types.js, each such method as a factory of its own. waproto.mjs (the module Baileys imports instead)
// defines every type as a getter that compiles and runs its factory on first read and then replaces itself with the
// plain value, as the eager assignment would have left it; a method is a stub of the same arity that compiles the
// method on its first call. The code is the generated code, unchanged but for those substitutions. Before writing
// anything this script proves that moving each block into a function of its own binds every identifier as before
// (checkScopes), and afterwards `verifyLazyWaproto` compares every type of the result with the installed WAProto.
// Any surprise in the generated source fails the build: nothing is guessed, and no list of types is kept.
import { build, transform } from 'esbuild';
import { isDeepStrictEqual } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** esbuild options of a module built beside index.mjs (minified ESM, its own linked source map). */
export const sideModuleOptions = (target, outfile) => ({
  bundle: true,
  platform: 'node',
  format: 'esm',
  target,
  minify: true,
  sourcemap: 'linked',
  sourcesContent: false,
  outfile,
  logLevel: 'error',
});

export const WAPROTO_MODULE = 'waproto.mjs';
export const WAPROTO_TYPES = 'waproto-types.js';

const ARROW_OPEN = 'export const proto = $root.proto = (() => {';
const ARROW_TAIL = ['    return proto;', '})();', '', 'export { $root as default };', ''];
const BLOCK_OPEN = /^( *)([A-Za-z_$][\w$]*)\.([A-Za-z_$][\w$]*) = \(function\(\) \{$/;
const METHOD_OPEN = /^( *)([A-Za-z_$][\w$]*)((?:\.prototype)?)\.([A-Za-z_$][\w$]*) = (function [A-Za-z_$][\w$]*\(([^()]*)\) \{)$/;
/** The names the factories call to define their nested types, and their methods, lazily. */
const LAZY = '$lazy';
const METHOD = '$method';
/** Methods shorter than this (create, toJSON, getTypeUrl) stay in their type's factory: a stub would cost more. */
const METHOD_MIN_CHARS = 400;
/** Names that cannot be esbuild define keys (and are never free variables). */
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if ' +
    'import in instanceof new null return super switch this throw true try typeof var void while with yield let static ' +
    'implements interface package private protected public await arguments eval').split(' '),
);

/**
 * Splits WAProto's source into its module header, the `proto` namespace with one `$lazy` line per top-level type,
 * and the factories (pre-order: a parent before its nested types and methods). A type's factory keeps its
 * constructor, prototype fields and small methods; its nested types become `$lazy(Owner, "Name", id)` and its large
 * methods (encode, decode, fromObject, toObject) `Owner.name = $method(id, Owner, arity)`, whose factories return
 * the method for a given owner.
 */
export function splitWaproto(source) {
  const lines = source.split('\n');
  const open = lines.indexOf(ARROW_OPEN);
  const close = lines.length - ARROW_TAIL.length;
  if (open < 0 || lines[open + 2] !== '    const proto = {};' || lines.slice(close).join('\n') !== ARROW_TAIL.join('\n')) {
    throw new Error('lazy-waproto: WAProto/index.js does not have the expected layout (export const proto = $root.proto = (() => { … })())');
  }
  const definitions = [];
  /** Lines [from, to) of a block body at `indent` whose types belong to the local `owner`; nested blocks become $lazy lines. */
  const body = (from, to, indent, owner, parent) => {
    const out = [];
    for (let i = from; i < to; i++) {
      const line = lines[i];
      const match = BLOCK_OPEN.exec(line);
      const method = !match && parent !== undefined ? METHOD_OPEN.exec(line) : null;
      if (method && method[1].length === indent && method[2] === owner) {
        const end = lines.indexOf(`${method[1]}};`, i + 1);
        if (end < 0 || end >= to) throw new Error(`lazy-waproto: unterminated method at line ${i + 1}`);
        const source = [method[5], ...lines.slice(i + 1, end), `${method[1]}}`].join('\n');
        if (source.length >= METHOD_MIN_CHARS) {
          const id = definitions.length;
          const arity = method[6].split(',').filter((param) => param.trim()).length;
          const holder = `${owner}${method[3]}`;
          // The factory gets the owner's constructor as the parameter of the same name the method used.
          definitions.push({ id, parent, name: method[4], path: `${definitions[parent].path}${method[3]}.${method[4]}()`, line: i + 1, method: true, body: `return function(${owner}) {\nreturn ${source};\n};` });
          out.push(`${method[1]}${holder}.${method[4]} = ${METHOD}(${id}, ${owner}, ${arity});`);
          i = end;
          continue;
        }
      }
      if (!match) {
        if (line.trim() && !line.startsWith(' '.repeat(indent))) throw new Error(`lazy-waproto: line ${i + 1} is outside its block's indentation`);
        out.push(line);
        continue;
      }
      const [, spaces, target, name] = match;
      if (spaces.length !== indent || target !== owner) throw new Error(`lazy-waproto: unexpected definition at line ${i + 1}: ${line.trim()}`);
      const end = lines.indexOf(`${spaces}})();`, i + 1);
      if (end < 0 || end >= to) throw new Error(`lazy-waproto: unterminated definition at line ${i + 1}`);
      const id = definitions.length;
      const path = parent === undefined ? name : `${definitions[parent].path}.${name}`;
      definitions.push({ id, parent, name, path, line: i + 1 });
      definitions[id].body = body(i + 1, end, indent + 4, name, id).join('\n');
      out.push(`${spaces}${LAZY}(${owner}, ${JSON.stringify(name)}, ${id});`);
      i = end;
    }
    return out;
  };
  const namespace = body(open + 3, close, 4, 'proto', undefined);
  for (const definition of definitions) definition.children = definitions.filter((other) => other.parent === definition.id).map((child) => child.id);
  for (const definition of definitions) {
    // A method gets the owner's constructor as it was when the method was defined: the owner must never be reassigned.
    if (!definition.method && new RegExp(`(^|[^.\\w$])${definition.name.replace(/\$/g, '\\$')}\\s*=[^=]`, 'm').test(definition.body)) {
      throw new Error(`lazy-waproto: ${definition.path} reassigns its own name`);
    }
  }
  return { header: lines.slice(0, open).join('\n'), namespace: namespace.join('\n'), definitions };
}

const identifiers = (code) => [...new Set(code.match(/[A-Za-z_$][\w$]*/g) ?? [])].filter((name) => !RESERVED.has(name));

/** esbuild substitutes `define`d names only where they are unbound references: its own scope analysis, not a guess. */
async function substituteUnbound(source, names, esm) {
  const define = Object.fromEntries([...names].filter((name) => !RESERVED.has(name)).map((name) => [name, `__unbound__${name}`]));
  const { code } = await transform(source, { define, format: esm ? 'esm' : undefined, logLevel: 'silent', loader: 'js' });
  return code;
}
const substituted = (code) => new Set([...code.matchAll(/__unbound__([\w$]+)/g)].map((match) => match[1]));

/**
 * For each function body of `bodies` (with `probes[i]`, a list of names), the identifiers it uses without binding
 * them, or with a probe, which of the probed names it binds in its own top scope. One esbuild pass for all.
 */
async function analyseBodies(bodies, probes) {
  const names = new Set();
  for (const [i, body] of bodies.entries()) for (const name of probes ? probes[i] : identifiers(body)) names.add(name);
  const wrap = (body, i) => `__body${i}__(function(){${body}\n${probes ? `;__probe__([${[...probes[i]].join(',')}]);` : ''}});`;
  const out = await substituteUnbound(bodies.map(wrap).join('\n'), names, false);
  return bodies.map((_, i) => {
    const start = out.indexOf(`__body${i}__(`);
    const end = i + 1 < bodies.length ? out.indexOf(`__body${i + 1}__(`, start) : out.length;
    if (start < 0 || end < 0) throw new Error('lazy-waproto: unexpected esbuild output in the scope analysis');
    const section = out.slice(start, end);
    if (!probes) return substituted(section);
    const free = substituted(section.slice(section.lastIndexOf('__probe__(')));
    return new Set([...probes[i]].filter((name) => !free.has(name)));
  });
}

/** Which of `names` the module code `code` binds in its own scope. */
async function boundInModule(code, names) {
  const list = [...names].filter((name) => !RESERVED.has(name));
  const out = await substituteUnbound(`${code}\n;__probe__([${list.join(',')}]);`, list, true);
  const free = substituted(out.slice(out.lastIndexOf('__probe__(')));
  return new Set(list.filter((name) => !free.has(name)));
}

/**
 * Moving a block out of its enclosing scopes into a function of its own keeps every identifier bound to the same
 * thing if (1) nothing it uses unbound is declared by an enclosing block or the `proto` namespace function, and
 * (2) what it uses from the module scope is handed to it as a parameter. Returns those parameters.
 */
export async function checkScopes({ header, definitions }) {
  const free = await analyseBodies(definitions.map((definition) => definition.body));
  const needed = new Set(free.flatMap((names) => [...names]));
  const moduleBound = await boundInModule(header, [...needed, LAZY, METHOD]);
  for (const name of [LAZY, METHOD]) if (moduleBound.has(name)) throw new Error(`lazy-waproto: WAProto's module scope already declares ${name}`);
  const usesNamespace = definitions.find((definition) => free[definition.id].has('proto'));
  if (usesNamespace) throw new Error(`lazy-waproto: ${usesNamespace.path} refers to the local \`proto\` directly`);
  // Everything a nested type uses unbound must be unbound in each enclosing block too (else it captured it).
  const parents = definitions.filter((definition) => definition.children.length);
  const used = parents.map((parent) => {
    const names = new Set([LAZY, METHOD]);
    for (const other of definitions) if (other.path.startsWith(`${parent.path}.`)) for (const name of free[other.id]) names.add(name);
    return names;
  });
  const bound = await analyseBodies(parents.map((parent) => parent.body), used);
  for (const [i, parent] of parents.entries()) {
    if (bound[i].size) throw new Error(`lazy-waproto: ${parent.path} declares ${[...bound[i]].join(', ')}, which a nested type uses: its blocks cannot be separated`);
  }
  return [...moduleBound].sort();
}

/**
 * The factories' bodies, minified as esbuild minifies the bundle: strict function bodies, each on one line. They are
 * minified together, as sibling functions of one program, so that they get the same local names throughout (it
 * compresses ~15% better than minifying each alone), then cut at markers the minifier keeps (calls it cannot drop).
 */
async function minifyBodies(bodies, target) {
  const mark = (i) => `__factory__("${i}"),`; // a string: the minifier would print 1000 as 1e3
  const program = `__keep__([${bodies.map((body, i) => `${mark(i)}function(){"use strict";${body}\n}`).join(',\n')}]);`;
  const { code } = await transform(program, { minify: true, target, logLevel: 'silent', loader: 'js' });
  return bodies.map((_, i) => {
    const start = code.indexOf(mark(i));
    const end = i + 1 < bodies.length ? code.indexOf(`,${mark(i + 1)}`, start) : code.lastIndexOf(']);');
    const text = start < 0 || end < 0 ? '' : code.slice(start + mark(i).length, end);
    if (!text.startsWith('function(){"use strict";') || !text.endsWith('}')) throw new Error(`lazy-waproto: unexpected minifier output for factory ${i}`);
    const minified = text.slice('function(){'.length, -1);
    if (/[\n\r\u2028\u2029]/.test(minified)) throw new Error('lazy-waproto: a minified factory spans lines');
    return minified;
  });
}

/** waproto.mjs before bundling: the original header, the loader, the namespace of getters. */
function lazyModuleSource({ header, namespace, definitions }, params, starts) {
  const loader = `
import { createRequire as $createRequire } from "node:module";
const $require = $createRequire(import.meta.url);
/**
 * Per factory: its name under its parent (ImageMessage, decode(), prototype.toJSON()) and its parent's id, for its path
 * in messages and stack traces, and where its code starts in ${WAPROTO_TYPES} (one per line; the last entry is the
 * file's length). A JSON string: quicker to read than the same literal as code.
 */
const $index = JSON.parse(${JSON.stringify(JSON.stringify({
    names: definitions.map((definition) => (definition.parent === undefined ? definition.path : definition.path.slice(definitions[definition.parent].path.length + 1))),
    parents: definitions.map((definition) => definition.parent ?? -1),
    starts,
  }))});
const $path = (id) => ($index.parents[id] < 0 ? $index.names[id] : \`\${$path($index.parents[id])}.\${$index.names[id]}\`);
/** Each factory's state: 0 not loaded, 1 loading, 2 loaded. */
const $state = new Uint8Array(${definitions.length});
const $typesFile = new URL("./${WAPROTO_TYPES}", import.meta.url);
/** The factories file, opened on first use and read a factory at a time. */
let $types;
function $define(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
  return value;
}
/** The eager code assigned \`target[name] = (function() { … })()\`; this defers that until the first read. */
function ${LAZY}(target, name, id) {
  Object.defineProperty(target, name, {
    configurable: true,
    enumerable: true,
    get() { return $define(target, name, $load(id)); },
    set(value) { $define(target, name, value); },
  });
}
/**
 * The eager code assigned \`owner.name = function (…) { … }\`; this assigns a stub of the same arity instead, which
 * compiles the method on its first call and from then on calls it (the stub stays: the property never changes).
 */
function ${METHOD}(id, owner, arity) {
  let method;
  const load = () => (method ??= $load(id)(owner));
  return ($stubs[arity] ??= new Function("load", \`"use strict";return function(\${Array.from({ length: arity }, (_, i) => "a" + i)}){return load().apply(this,arguments)}\`))(load);
}
const $stubs = [];
/** Reads factory \`id\` from ${WAPROTO_TYPES}, compiles it and runs it: the type, or for a method a function of its owner. */
function $load(id) {
  if ($state[id] !== 0) throw new Error(\`WAProto: proto.\${$path(id)} was read while it was being defined\`);
  $state[id] = 1;
  try {
    const fs = $require("node:fs");
    $types ??= fs.openSync($typesFile, "r");
    const [start, end] = [$index.starts[id], $index.starts[id + 1] - 1];
    const bytes = Buffer.allocUnsafe(end - start);
    if (fs.readSync($types, bytes, 0, bytes.length, start) !== bytes.length) throw new Error(\`WAProto: ${WAPROTO_TYPES} is shorter than expected\`);
    // new Function compiles in this module's realm, as the eager code ran (vm.compileFunction would use the main
    // context's). The sourceURL names the type in stack traces: waproto-types/<path> (line 3 is the factory's line).
    const factory = new Function(${[...params, LAZY, METHOD].map((name) => JSON.stringify(name)).join(', ')}, \`\${bytes.toString("latin1")}\n//# sourceURL=${WAPROTO_TYPES.replace(/\.js$/, '')}/\${$path(id)}\`);
    const value = factory(${[...params, LAZY, METHOD].join(', ')});
    $state[id] = 2;
    return value;
  } catch (error) {
    $state[id] = 0;
    throw error;
  }
}
/** Diagnostics: what has been compiled so far. */
$root[Symbol.for("waproto.lazy")] = { loaded: () => [...$state.keys()].filter((id) => $state[id] === 2).map($path) };
`;
  return `${header}\n${loader}\n${ARROW_OPEN}\n\n    const proto = {};\n${namespace}\n${ARROW_TAIL.join('\n')}`;
}

/**
 * Writes waproto.mjs (+ .map) and waproto-types.js into `outdir` from the installed WAProto (`waprotoFile`, the
 * file the bundle's external import resolved to), bundling protobufjs into waproto.mjs.
 */
export async function buildLazyWaproto({ waprotoFile, outdir, target }) {
  const split = splitWaproto(readFileSync(waprotoFile, 'utf8'));
  const params = await checkScopes(split);
  const bodies = await minifyBodies(split.definitions.map((definition) => definition.body), target);
  const starts = [];
  let position = 0;
  for (const body of bodies) {
    starts.push(position);
    position += body.length + 1;
  }
  starts.push(position);
  const types = `${bodies.join('\n')}\n`;
  if (Buffer.byteLength(types) !== types.length) throw new Error('lazy-waproto: factories are not ASCII (offsets would be wrong)');
  writeFileSync(join(outdir, WAPROTO_TYPES), types);
  await build({
    stdin: { contents: lazyModuleSource(split, params, starts), resolveDir: dirname(waprotoFile), sourcefile: 'waproto-lazy.js', loader: 'js' },
    ...sideModuleOptions(target, join(outdir, WAPROTO_MODULE)),
  });
  return { types: split.definitions.filter((definition) => !definition.method).length, methods: split.definitions.filter((definition) => definition.method).length, params, typesBytes: types.length };
}

/** Own property names and, for data properties, a comparable value (functions by arity, objects by keys). */
function shape(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value;
  const out = {};
  for (const key of Object.getOwnPropertyNames(value)) {
    if (typeof value === 'function' && ['length', 'name', 'prototype', 'arguments', 'caller'].includes(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if ('value' in descriptor) {
      const item = descriptor.value;
      out[key] = typeof item === 'function' ? `function/${item.length}` : item && typeof item === 'object' ? `object:${Object.keys(item).join(',')}` : item;
    } else out[key] = `accessor:${typeof descriptor.get}/${typeof descriptor.set}`;
  }
  return out;
}

/**
 * Loads the installed WAProto and the lazy one from `outdir`, reads every type of the lazy one (so every factory
 * runs) and compares them: the same types in the same order, the same statics, prototype fields and defaults, the
 * same enums, and for every message type the same result of fromObject({}) → encode → decode → toObject(defaults) and the same type URL.
 * Throws on the first difference. Returns the number of types compared.
 */
export async function verifyLazyWaproto({ waprotoFile, outdir }) {
  const { proto: eager } = await import(pathToFileURL(waprotoFile).href);
  const { proto: lazy } = await import(`${pathToFileURL(join(outdir, WAPROTO_MODULE)).href}?verify=${Date.now()}`);
  const options = { defaults: true, longs: String, enums: String, bytes: String, arrays: true, objects: true, oneofs: true };
  let compared = 0;
  const walk = (a, b, path) => {
    const keysA = Object.keys(a);
    const keysB = Object.keys(b);
    if (!isDeepStrictEqual(keysA, keysB)) throw new Error(`lazy-waproto: ${path} has keys ${keysB.join(',')} instead of ${keysA.join(',')}`);
    for (const key of keysA) {
      const [x, y] = [a[key], b[key]];
      const here = `${path}.${key}`;
      if (typeof x !== typeof y) throw new Error(`lazy-waproto: ${here} is a ${typeof y}, not a ${typeof x}`);
      if (typeof x === 'function' && typeof x.decode === 'function') {
        compared++;
        walk(x, y, here); // first: reading the nested types turns the lazy getters into data properties
        const checks = [
          ['statics', shape(x), shape(y)],
          ['prototype', shape(x.prototype), shape(y.prototype)],
          ['round trip', x.toObject(x.decode(x.encode(x.fromObject({})).finish()), options), y.toObject(y.decode(y.encode(y.fromObject({})).finish()), options)],
          ['type url', x.getTypeUrl(), y.getTypeUrl()],
        ];
        for (const [what, expected, actual] of checks) {
          if (!isDeepStrictEqual(expected, actual)) throw new Error(`lazy-waproto: ${here} differs (${what}): ${JSON.stringify(actual)} instead of ${JSON.stringify(expected)}`);
        }
      } else if (x && typeof x === 'object') {
        compared++;
        if (!isDeepStrictEqual({ ...x }, { ...y }) || !isDeepStrictEqual({ ...Object.getPrototypeOf(x) }, { ...Object.getPrototypeOf(y) })) {
          throw new Error(`lazy-waproto: enum ${here} differs`);
        }
      }
    }
  };
  walk(eager, lazy, 'proto');
  return compared;
}
