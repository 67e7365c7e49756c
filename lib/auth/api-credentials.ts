import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { decodeBasicAuthorization, matchesAny, parseBasicAuthList } from './basic-auth.js';

/** Checks an Authorization header against the API credentials. */
export interface Authenticator {
  authenticate(authorization: unknown): Promise<boolean>;
}

const MAX_AGE_SECONDS = 300;
const REFETCH_AFTER_MS = 30_000;

/**
 * API credentials from Secrets Manager (`{"basic_auth":"user:pass,..."}`), cached by Powertools for
 * 5 minutes. When a request fails to match a cached copy older than 30 s, the secret is fetched once
 * more, so a rotation takes effect without a cold start (and failed logins cannot hammer the API).
 */
export class SecretsManagerAuthenticator implements Authenticator {
  private source: unknown;
  private digests: Buffer[] = [];
  private fetchedAt = 0;

  constructor(
    private readonly secretId: string,
    private readonly provider: SecretsProvider,
  ) {}

  async authenticate(authorization: unknown): Promise<boolean> {
    const candidate = decodeBasicAuthorization(authorization);
    if (candidate === undefined) return false;
    await this.refresh(false);
    if (matchesAny(candidate, this.digests)) return true;
    if (Date.now() - this.fetchedAt < REFETCH_AFTER_MS) return false;
    await this.refresh(true);
    return matchesAny(candidate, this.digests);
  }

  private async refresh(forceFetch: boolean): Promise<void> {
    const value = await this.provider.get(this.secretId, { transform: 'json', maxAge: MAX_AGE_SECONDS, forceFetch });
    if (value === this.source) return;
    const list = (value as { basic_auth?: unknown } | undefined)?.basic_auth;
    if (typeof list !== 'string') throw new Error(`secret ${this.secretId} has no "basic_auth" string`);
    this.source = value;
    this.digests = parseBasicAuthList(list);
    this.fetchedAt = Date.now();
  }
}
