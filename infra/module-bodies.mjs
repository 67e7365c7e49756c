// The bodies of esbuild's module wrappers in a bundle, kept as strings and compiled when the module initialises.
//
// esbuild wraps each CommonJS module, and each ES module it must initialise lazily, in a function
// (`__commonJS((exports, module) => { … })`, `__esm(() => { … })`) that runs when the module is first required. V8
// preparses every such function when it compiles the bundle, then parses it again when it runs: at import, half of
// index.mjs is read twice. Here each body becomes `eval($moduleBodies[i])`, the body's text: V8 only scans the
// string at import, and compiles the code once, when the module initialises. A direct eval runs in the wrapper's
// own scope (the same bindings, `this`, strictness), so the module's code behaves as before; stack frames inside it
// name the module (`//# sourceURL=node_modules/ws/lib/receiver.js`), at positions within its minified body.
// Bodies an eval would not run the same way are left alone: a top-level return or await, import.meta, new.target,
// import(), `arguments`, `eval`, or HTML-like comments (script and module code read those differently).
import swc from '@swc/core';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The array of body strings, declared on the bundle's first line. */
export const BODIES = '$moduleBodies';
/** esbuild's helpers, as it prints them minified (0.28): __commonJS and __esm, with their parameter names free. */
const HELPERS = {
  commonjs: /^\(([\w$]+),([\w$]+)\)=>\(\)=>\{try\{return \2\|\|\1\(\(\2=\{exports:\{\}\}\)\.exports,\2\),\2\.exports\}catch\(([\w$]+)\)\{throw \2=0,\3\}\}$/,
  esm: /^\(([\w$]+),([\w$]+),([\w$]+)\)=>\(\)=>\{if\(\3\)throw \3\[0\];try\{return \1&&\(\2=\1\(\1=0\)\),\2\}catch\(([\w$]+)\)\{throw \3=\[\4\],\4\}\}$/,
};

function decodeMappings(mappings) {
  const lines = [];
  const state = [0, 0, 0, 0];
  for (const line of mappings.split(';')) {
    const segments = [];
    let column = 0;
    for (const text of line.split(',')) {
      if (!text) continue;
      const values = [];
      for (let i = 0, value = 0, shift = 0; i < text.length; i++) {
        const digit = B64.indexOf(text[i]);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      const segment = [column];
      for (let k = 1; k < values.length; k++) segment.push((state[k - 1] += values[k]));
      segments.push(segment);
    }
    lines.push(segments);
  }
  return lines;
}

function encodeMappings(lines) {
  const vlq = (value) => {
    let rest = value < 0 ? (-value << 1) | 1 : value << 1;
    let out = '';
    do {
      const digit = rest & 31;
      rest >>>= 5;
      out += B64[rest ? digit | 32 : digit];
    } while (rest);
    return out;
  };
  const state = [0, 0, 0, 0];
  return lines
    .map((segments) => {
      let column = 0;
      return segments
        .map((segment) => {
          let text = vlq(segment[0] - column);
          column = segment[0];
          for (let k = 1; k < segment.length; k++) {
            text += vlq(segment[k] - state[k - 1]);
            state[k - 1] = segment[k];
          }
          return text;
        })
        .join(',');
    })
    .join(';');
}

/** Whether the function body `node` (swc AST) holds something a direct eval would treat differently. */
function unsafeForEval(node, text) {
  if (/<!--|-->/.test(text) || /\barguments\b|\beval\b|\bimport\s*(\(|\.meta)|\bnew\.target\b/.test(text)) return true;
  let unsafe = false;
  const visit = (value, topScope) => {
    if (unsafe || !value || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach((item) => visit(item, topScope));
    const type = value.type ?? '';
    if (topScope && (type === 'ReturnStatement' || type === 'AwaitExpression' || (type === 'ForOfStatement' && value.isAwait))) {
      unsafe = true;
      return;
    }
    if (type === 'MetaProperty' || type === 'Import') {
      unsafe = true;
      return;
    }
    const entersFunction = /Function|Method|Constructor|Getter|Setter|ClassProperty|PrivateProperty|StaticBlock/.test(type);
    for (const key in value) if (key !== 'span') visit(value[key], topScope && !entersFunction);
  };
  visit(node.stmts, true);
  return unsafe;
}

/**
 * Rewrites `code` (esbuild's output, with `map` its source map object) so that module wrapper bodies are compiled when
 * they run. Returns the new code and map, and what was deferred. The first line (the banner) gets the strings.
 */
export function deferModuleBodies(code, map) {
  if (!/^[\x00-\x7f]*$/.test(code)) throw new Error('module-bodies: the bundle is not ASCII (swc spans are bytes)');
  if (code.includes(BODIES)) throw new Error(`module-bodies: the bundle already uses the name ${BODIES}`);
  const ast = swc.parseSync(code, { syntax: 'ecmascript', target: 'es2022', isModule: true });
  const leading = code.length - code.trimStart().length;
  const base = ast.span.start - leading;
  const text = (node) => code.slice(node.span.start - base, node.span.end - base);
  const helpers = new Map();
  for (const item of ast.body) {
    if (item.type !== 'VariableDeclaration') continue;
    for (const declarator of item.declarations) {
      if (declarator.id.type !== 'Identifier' || declarator.init?.type !== 'ArrowFunctionExpression') continue;
      for (const [kind, shape] of Object.entries(HELPERS)) if (shape.test(text(declarator.init))) helpers.set(declarator.id.value, kind);
    }
  }
  if (!helpers.size) throw new Error("module-bodies: esbuild's __commonJS / __esm helpers not found (has esbuild changed how it prints them?)");
  const edits = [];
  let kept = 0;
  const visit = (node) => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(visit);
    if (node.type === 'CallExpression' && node.callee?.type === 'Identifier' && helpers.has(node.callee.value) && node.arguments.length === 1 && !node.arguments[0].spread) {
      const fn = node.arguments[0].expression;
      const body = fn.body;
      if (fn.type === 'ArrowFunctionExpression' && !fn.async && !fn.generator && (body?.type === 'BlockStatement' || body?.type === 'FunctionBody')) {
        const [start, end] = [body.span.start - base + 1, body.span.end - base - 1];
        if (code[start - 1] !== '{' || code[end] !== '}') throw new Error('module-bodies: swc spans do not line up with the code');
        const inner = code.slice(start, end);
        if (inner.trim() && !unsafeForEval(body, inner)) {
          edits.push({ start, end, kind: helpers.get(node.callee.value) });
          return;
        }
      }
      kept++;
    }
    for (const key in node) if (key !== 'span') visit(node[key]);
  };
  visit(ast.body);
  edits.sort((a, b) => a.start - b.start);

  // The text and the source map: each body's segments leave with it (its first names its module), the rest shift.
  const lineStarts = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1);
  const lines = decodeMappings(map.mappings);
  const offsetOf = (line, column) => lineStarts[line] + column;
  const segments = lines.flatMap((segments, line) => segments.map((segment) => ({ at: offsetOf(line, segment[0]), segment })));
  const bodies = [];
  let out = '';
  let from = 0;
  let cursor = 0;
  const moved = [];
  for (const edit of edits) {
    while (cursor < segments.length && segments[cursor].at < edit.start) moved.push({ ...segments[cursor], to: segments[cursor].at + out.length - from }), cursor++;
    let source;
    while (cursor < segments.length && segments[cursor].at < edit.end) {
      if (source === undefined && segments[cursor].segment.length > 1) source = map.sources[segments[cursor].segment[1]];
      cursor++;
    }
    const name = (source ?? 'index.mjs').replace(/^(\.\.\/)+/, '');
    out += code.slice(from, edit.start);
    const replacement = `eval(${BODIES}[${bodies.length}])`;
    bodies.push(`${code.slice(edit.start, edit.end)}\n//# sourceURL=${name}`);
    out += replacement;
    from = edit.end;
    edit.delta = edit.end - edit.start - replacement.length;
  }
  const tailShift = out.length - from;
  while (cursor < segments.length) moved.push({ ...segments[cursor], to: segments[cursor].at + tailShift }), cursor++;
  out += code.slice(from);
  // New line/column of every kept segment; line 0 (the banner) gains the strings at its end, after every segment on it.
  const newLineStarts = [0];
  for (let i = 0; i < out.length; i++) if (out[i] === '\n') newLineStarts.push(i + 1);
  const newLines = newLineStarts.map(() => []);
  let line = 0;
  for (const { to, segment } of moved.sort((a, b) => a.to - b.to)) {
    while (line + 1 < newLineStarts.length && newLineStarts[line + 1] <= to) line++;
    newLines[line].push([to - newLineStarts[line], ...segment.slice(1)]);
  }
  const firstLine = out.indexOf('\n');
  const declaration = `const ${BODIES}=${JSON.stringify(bodies)};`;
  const result = `${out.slice(0, firstLine)}${declaration}${out.slice(firstLine)}`;
  const bytes = (kind) => edits.filter((edit) => edit.kind === kind).reduce((sum, edit) => sum + edit.end - edit.start, 0);
  return {
    code: result,
    map: { ...map, mappings: encodeMappings(newLines) },
    report: { commonjs: edits.filter((edit) => edit.kind === 'commonjs').length, esm: edits.filter((edit) => edit.kind === 'esm').length, kept, bytes: { commonjs: bytes('commonjs'), esm: bytes('esm') } },
  };
}
