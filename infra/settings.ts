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

export function readSettings(node: Node): Settings {
  const reserved = node.tryGetContext('reservedConcurrency');
  return {
    stage: text(node, 'stage', /^[A-Za-z][A-Za-z0-9-]{0,31}$/),
    defaultDeviceId: text(node, 'defaultDeviceId', /^[A-Za-z0-9._-]{1,64}$/),
    throttleRateLimit: number(node, 'throttleRateLimit', 0.1, 10_000, false),
    throttleBurstLimit: number(node, 'throttleBurstLimit', 1, 5_000),
    memorySize: number(node, 'memorySize', 128, 10_240),
    reservedConcurrency: reserved === undefined || reserved === null || reserved === 'none' ? undefined : number(node, 'reservedConcurrency', 1, 1_000),
  };
}
