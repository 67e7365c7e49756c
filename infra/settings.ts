/**
 * Deployment settings from CDK context: defaults live in cdk.json, `-c key=value` overrides them
 * (values given with -c arrive as strings, so numbers are parsed here and checked once).
 */
import type { Node } from 'constructs';

export interface Settings {
  /** Names the stacks and the API Gateway stage, e.g. `prod`. */
  stage: string;
  /** DEFAULT_DEVICE_ID of the function: the account used when a request names none. */
  defaultDeviceId: string;
  /** API Gateway steady-state requests per second (stage-wide). */
  throttleRateLimit: number;
  /** API Gateway burst capacity (requests). */
  throttleBurstLimit: number;
  /** Lambda memory in MB (CPU scales with it). */
  memorySize: number;
  /** Reserved concurrency of the function; undefined leaves it unreserved. */
  reservedConcurrency: number | undefined;
  /** MAX_PINNED_CHATS of the function: most chats an account may have pinned; 0 disables the check. */
  maxPinnedChats: number;
  /** Create API Gateway's account-wide CloudWatch role (AWS::ApiGateway::Account): it replaces the one the account and region had. */
  apiGatewayCloudWatchRole: boolean;
  /** Where alarms are sent (an SNS topic with this email subscription); undefined creates no topic. */
  alarmEmail: string | undefined;
  /** Alarm threshold of the pin latency p95 (ms, over 5 minutes). */
  pinLatencyP95AlarmMs: number;
}

function text(node: Node, key: string, pattern: RegExp): string {
  const value = node.tryGetContext(key);
  if (typeof value !== 'string' || !pattern.test(value)) throw new Error(`context ${key} must match ${pattern}, got ${JSON.stringify(value)}`);
  return value;
}

function number(node: Node, key: string, min: number, max: number, integer = true): number {
  const raw = node.tryGetContext(key);
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`context ${key} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return value;
}

function flag(node: Node, key: string): boolean {
  const value = node.tryGetContext(key);
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false' || value === undefined || value === null) return false;
  throw new Error(`context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

const absent = (value: unknown) => value === undefined || value === null || value === '' || value === 'none';

export function readSettings(node: Node): Settings {
  return {
    stage: text(node, 'stage', /^[A-Za-z][A-Za-z0-9-]{0,31}$/),
    defaultDeviceId: text(node, 'defaultDeviceId', /^[A-Za-z0-9._-]{1,64}$/),
    throttleRateLimit: number(node, 'throttleRateLimit', 0.1, 10_000, false),
    throttleBurstLimit: number(node, 'throttleBurstLimit', 1, 5_000),
    memorySize: number(node, 'memorySize', 128, 10_240),
    reservedConcurrency: absent(node.tryGetContext('reservedConcurrency')) ? undefined : number(node, 'reservedConcurrency', 1, 1_000),
    maxPinnedChats: number(node, 'maxPinnedChats', 0, 100),
    apiGatewayCloudWatchRole: flag(node, 'apiGatewayCloudWatchRole'),
    alarmEmail: absent(node.tryGetContext('alarmEmail')) ? undefined : text(node, 'alarmEmail', /^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/),
    pinLatencyP95AlarmMs: number(node, 'pinLatencyP95AlarmMs', 100, 60_000),
  };
}
