/**
 * The only place that reads the environment. Read once at module scope by the entry points; a
 * missing required variable fails the cold start at once instead of the first request.
 */
export interface Config {
  /** DynamoDB table holding sessions and leases. */
  sessionTable: string;
  /** Secrets Manager secret id/ARN holding `{"basic_auth":"user:pass,..."}`. */
  apiCredentialsSecretId: string;
  /** Device used when the request names none. */
  defaultDeviceId: string;
  /** WhatsApp WebSocket endpoint; undefined means WhatsApp's own. */
  whatsappWsUrl: string | undefined;
  /** WhatsApp's media host (app-state snapshots and external patches); undefined means https://mmg.whatsapp.net. */
  whatsappMediaUrl: string | undefined;
  /** Most chats the account may have pinned (WhatsApp shows 3); 0 disables the check. */
  maxPinnedChats: number;
  /** Check that the chat exists on WhatsApp before pinning (404 otherwise). */
  checkChatExists: boolean;
  /** Budget of one pin call, from the start of the invocation. */
  pinTimeoutMs: number;
  /** Lease duration on a device (renewed while a call runs). */
  leaseSeconds: number;
  /** Dead-letter queue of the SQS source: a record that can never succeed (a client error) goes there at once. Undefined: retried like any failure. */
  deadLetterQueueUrl: string | undefined;
  /** Deployment stage, added as the `stage` dimension of every metric; undefined adds none. */
  stage: string | undefined;
  /**
   * Lambda's runtime API (AWS_LAMBDA_RUNTIME_API, set by Lambda), through which the function registers to finish a
   * turn after its response; undefined outside Lambda: a caller waits for its whole turn.
   */
  lambdaRuntimeApi?: string;
  /** FINISH_AFTER_RESPONSE: in Lambda, answer a pin as soon as WhatsApp accepted it and commit after the response (unset: yes); false: commit first. */
  finishAfterResponse?: boolean;
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`missing required environment variable ${name}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return value;
}

function url(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw new Error(`${name} must be an http(s) URL, got "${value}"`);
  return value;
}

export function loadConfig(env: Env = process.env): Config {
  return {
    sessionTable: required(env, 'SESSION_TABLE'),
    apiCredentialsSecretId: required(env, 'API_CREDENTIALS_SECRET_ID'),
    defaultDeviceId: env.DEFAULT_DEVICE_ID?.trim() || 'default',
    whatsappWsUrl: env.WHATSAPP_WS_URL?.trim() || undefined,
    whatsappMediaUrl: env.WHATSAPP_MEDIA_URL?.trim() || undefined,
    maxPinnedChats: integer(env, 'MAX_PINNED_CHATS', 3, 0, 100),
    checkChatExists: boolean(env, 'CHECK_CHAT_EXISTS', true),
    pinTimeoutMs: integer(env, 'PIN_TIMEOUT_MS', 20_000, 1_000, 28_000),
    leaseSeconds: integer(env, 'LEASE_SECONDS', 30, 5, 900),
    deadLetterQueueUrl: url(env, 'DEAD_LETTER_QUEUE_URL'),
    stage: env.STAGE?.trim() || undefined,
    lambdaRuntimeApi: env.AWS_LAMBDA_RUNTIME_API?.trim() || undefined,
    finishAfterResponse: env.FINISH_AFTER_RESPONSE?.trim() ? boolean(env, 'FINISH_AFTER_RESPONSE', true) : undefined,
  };
}
