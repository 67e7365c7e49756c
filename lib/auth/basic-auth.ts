import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a `user:password` pair: fixed-length values that can be compared in constant time. */
export const credentialDigest = (userAndPassword: string): Buffer => createHash('sha256').update(userAndPassword, 'utf8').digest();

/**
 * Parses GOWA's APP_BASIC_AUTH format (`user1:pass1,user2:pass2`; each pair split on its first `:`,
 * so passwords may contain `:`) into digests. Pairs without user or password are ignored.
 */
export function parseBasicAuthList(list: string): Buffer[] {
  return list
    .split(',')
    .map((pair) => pair.trim())
    .filter((pair) => pair.indexOf(':') > 0 && pair.indexOf(':') < pair.length - 1)
    .map(credentialDigest);
}

const MAX_HEADER = 4096;
const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2})$/i;

/** The `user:password` of a Basic Authorization header, or undefined when absent or malformed. */
export function decodeBasicAuthorization(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.length > MAX_HEADER) return undefined;
  const match = BASIC.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 && colon < decoded.length - 1 ? decoded : undefined;
}

/**
 * Constant-time match: the candidate's digest is compared with every configured digest, without an
 * early exit, so neither the position of a match nor which half (user or password) was wrong shows
 * in the time taken.
 */
export function matchesAny(candidate: string, allowed: readonly Buffer[]): boolean {
  const digest = credentialDigest(candidate);
  let matched = false;
  for (const entry of allowed) matched = timingSafeEqual(digest, entry) || matched;
  return matched;
}
