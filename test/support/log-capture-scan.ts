/**
 * What must never appear in a log line: the scanner behind the suite-wide log capture
 * (test/support/log-capture-reporter.ts). Plain TypeScript with erasable syntax only: the reporter
 * loads it natively in jest's main process.
 */

/** A secret to look for, by label (the label, never the value, is what a finding shows). */
export interface Secret {
  label: string;
  value: string;
  /** Binary key material is looked for in its base64, base64url and hex forms too. */
  binary?: boolean;
}

export interface Finding {
  file: string;
  line: number;
  what: string;
}

/** The API passwords the test suite uses (events, HTTP-contract and credential tests). */
export const TEST_PASSWORDS = ['pin-test-password', 'first-password', 'second-password', 'rotated-password', 'p:with:colons'];

/** Shapes that are secrets whatever their value: an Authorization value, JSON fields of Baileys' key material. */
const PATTERNS: Array<[string, RegExp]> = [
  ['Basic credentials', /\bBasic +[A-Za-z0-9+/]{8,}={0,2}/],
  ['Bearer token', /\bBearer +[A-Za-z0-9._~+/-]{8,}/],
  ['an authorization header field', /"authorization"\s*:\s*"/i],
  ['a "private" key field', /"private"\s*:/],
  ['a "keyData" field', /"keyData"\s*:/],
  ['a "noiseKey" field', /"noiseKey"\s*:/],
  ['a "signedIdentityKey" field', /"signedIdentityKey"\s*:/],
  ['an "advSecretKey" field', /"advSecretKey"\s*:/],
  ['a BufferJSON value', /"type"\s*:\s*"Buffer"\s*,\s*"data"\s*:/],
];

/** The forms of a secret as it could be printed. */
export function forms(secret: Secret): string[] {
  if (!secret.binary) return [secret.value];
  const bytes = Buffer.from(secret.value, 'base64');
  const base64 = bytes.toString('base64');
  // base64 and base64url coincide when the bytes encode without '+' or '/': one form, one finding.
  return [...new Set([base64.replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')])].filter((form) => form.length >= 16);
}

const WINDOW = 16;
const TOKEN = /[A-Za-z0-9+/_-]{16,}/g;

/** Every line of `text` showing a secret's value (in any of its forms) or a secret-shaped pattern. */
export function scan(file: string, text: string, secrets: readonly Secret[]): Finding[] {
  const plain = secrets.filter((secret) => !secret.binary);
  // Binary forms are indexed by their first WINDOW characters: each token of a line is checked window by window.
  const byPrefix = new Map<string, Array<{ form: string; label: string }>>();
  for (const secret of secrets.filter((s) => s.binary)) {
    for (const form of forms(secret)) (byPrefix.get(form.slice(0, WINDOW)) ?? byPrefix.set(form.slice(0, WINDOW), []).get(form.slice(0, WINDOW))!).push({ form, label: secret.label });
  }
  const findings: Finding[] = [];
  text.split('\n').forEach((content, index) => {
    const found = (what: string) => findings.push({ file, line: index + 1, what });
    for (const [what, pattern] of PATTERNS) if (pattern.test(content)) found(what);
    for (const { value, label } of plain) if (content.includes(value)) found(label);
    for (const [token] of content.matchAll(TOKEN)) {
      for (let at = 0; at + WINDOW <= token.length; at++) {
        for (const { form, label } of byPrefix.get(token.slice(at, at + WINDOW)) ?? []) if (token.startsWith(form, at)) found(label);
      }
    }
  });
  return findings;
}

/** What a passing run must not print (outside expectLogs): each means someone is paged, or hides a real failure. */
const NOISE: Array<[string, RegExp]> = [
  ['an ERROR log line', /"level":"ERROR"/],
  ['a stack trace', /"stack":"/],
  ['Powertools\' "No application metrics to publish"', /No application metrics to publish/],
];
/** A frame of a printed stack; two in a row are a stack trace (one alone is where jest says a console call came from). */
const FRAME = /^\s+at \S.*:\d+:\d+\)?$/;

/** Every captured line of `text` that is noise; lines recorded inside expectLogs (tagged `expected:`) are left out. */
export function noise(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  let previousFrame = false;
  text.split('\n').forEach((line, index) => {
    const content = line.slice(line.indexOf('\t') + 1);
    const frame = !line.startsWith('expected:') && FRAME.test(content);
    if (frame && previousFrame) findings.push({ file, line: index + 1, what: 'a stack trace' });
    previousFrame = frame;
    if (line.startsWith('expected:')) return;
    for (const [what, pattern] of NOISE) if (pattern.test(content)) findings.push({ file, line: index + 1, what });
  });
  return findings;
}
