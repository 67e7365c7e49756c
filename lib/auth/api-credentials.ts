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
  /** A read in flight (the cold start's prefetch, say): the next one waits for it instead of reading again. */
  private reading?: Promise<void>;

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

  /** Reads the credentials ahead (at a cold start, while the first request is on its way); a failure is the first request's to report. */
  prefetch(): void {
    void this.refresh(false).catch(() => undefined);
  }

  private async refresh(forceFetch: boolean): Promise<void> {
    if (this.reading && !forceFetch) return this.reading;
    this.reading = this.read(forceFetch).finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(forceFetch: boolean): Promise<void> {
    const value = await this.provider.get(this.secretId, { transform: 'json', maxAge: MAX_AGE_SECONDS, forceFetch });
    if (value === this.source) return;
    const list = (value as { basic_auth?: unknown } | undefined)?.basic_auth;
    if (typeof list !== 'string') throw new Error(`secret ${this.secretId} has no "basic_auth" string`);
    this.source = value;
    this.digests = parseBasicAuthList(list);
    this.fetchedAt = Date.now();
  }
}
