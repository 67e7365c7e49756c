/**
 * Cost per million pins from measured per-pin figures, and the monthly costs beside it: the serverless stack's fixed
 * part and a t4g.nano running GOWA around the clock. Pure arithmetic over bench/aws-prices.ts (tested in test/bench).
 */
import { AWS_PRICES, type AwsPrices } from './aws-prices.js';

/** Means over the measured pins of one variant. */
export interface PinFigures {
  /** Invocation duration: the handler and what it finished after its response (billed per 1 ms, rounded up). */
  handlerMs: number;
  /** INIT duration of a cold start (billed since 2025-08-01); 0 for a warm instance. */
  initMs: number;
  /** DynamoDB on-demand request units per pin (transactional writes already doubled). */
  readUnits: number;
  writeUnits: number;
  /** Secrets Manager GetSecretValue calls per pin (a cold start reads the secret once; a warm instance caches it 5 minutes). */
  secretsCalls: number;
  /** The function's log output per pin (its JSON lines and EMF metrics). */
  logBytes: number;
}

/** What the deployment looks like (cdk.json and infra/): what the fixed part of the bill depends on. */
export interface Deployment {
  memoryMb: number;
  /** WAF rules on the web ACL (infra/stateless-stack.ts: the body-size limit). */
  wafRules: number;
  /** CloudWatch alarms (infra/alarms.ts). */
  alarms: number;
  /** Custom metrics published (names × dimension sets), billed per hour they are published. */
  customMetrics: number;
  /** Warm instances alive around the clock: each re-reads the secret when its 5-minute cache has expired. */
  warmInstances: number;
  secretCacheMinutes: number;
  /** Log bytes per pin besides the function's own: Lambda's START/END/REPORT lines and API Gateway's access log line. */
  platformLogBytes: number;
  /** Traces recorded per pin (active tracing; X-Ray's default rule records the first request each second, 5% beyond). */
  tracesPerPin: number;
  /** GOWA's instance: its gp3 volume. */
  ec2EbsGb: number;
}

export interface PinCost {
  /** GB-s per pin at the configured memory. */
  gbSeconds: number;
  lambdaCompute: number;
  lambdaRequests: number;
  dynamodbReads: number;
  dynamodbWrites: number;
  apiGateway: number;
  wafRequests: number;
  secretsManager: number;
  /** The services the API needs to answer a pin (Lambda, DynamoDB, API Gateway, WAF, Secrets Manager). */
  core: number;
  xray: number;
  logs: number;
  /** core + observability (X-Ray, CloudWatch Logs). */
  total: number;
}

const GB = 2 ** 30;

/** USD per million pins. */
export function costPerMillionPins(pin: PinFigures, deployment: Deployment, prices: AwsPrices = AWS_PRICES): PinCost {
  const million = 1e6;
  const billedMs = Math.ceil(pin.handlerMs) + (pin.initMs > 0 ? Math.ceil(pin.initMs) : 0);
  const gbSeconds = (billedMs / 1000) * (deployment.memoryMb / 1024);
  const lambdaCompute = million * gbSeconds * prices.lambda.gbSecondArm64;
  const lambdaRequests = prices.lambda.perMillionRequests;
  const dynamodbReads = pin.readUnits * prices.dynamodb.perMillionReadUnits;
  const dynamodbWrites = pin.writeUnits * prices.dynamodb.perMillionWriteUnits;
  const apiGateway = prices.apiGateway.restPerMillionRequests;
  const wafRequests = prices.waf.perMillionRequests;
  const secretsManager = ((pin.secretsCalls * million) / 10_000) * prices.secretsManager.per10kCalls;
  const core = lambdaCompute + lambdaRequests + dynamodbReads + dynamodbWrites + apiGateway + wafRequests + secretsManager;
  const xray = deployment.tracesPerPin * prices.xray.perMillionTraces;
  const logs = (((pin.logBytes + deployment.platformLogBytes) * million) / GB) * prices.cloudWatch.logsIngestedGb;
  return { gbSeconds, lambdaCompute, lambdaRequests, dynamodbReads, dynamodbWrites, apiGateway, wafRequests, secretsManager, core, xray, logs, total: core + xray + logs };
}

export interface FixedMonthly {
  wafWebAcl: number;
  wafRules: number;
  secret: number;
  /** Warm instances re-reading the secret every cache period. */
  secretRefreshes: number;
  kmsKey: number;
  /** WAF, the secret (stored and refreshed) and the table's KMS key. */
  core: number;
  alarms: number;
  customMetrics: number;
  /** core + alarms and custom metrics. */
  total: number;
}

/** The serverless stack's monthly cost with no pin at all (USD). */
export function fixedMonthly(deployment: Deployment, prices: AwsPrices = AWS_PRICES): FixedMonthly {
  const refreshCalls = deployment.warmInstances * (60 / deployment.secretCacheMinutes) * prices.hoursPerMonth;
  const wafWebAcl = prices.waf.webAclMonth;
  const wafRules = deployment.wafRules * prices.waf.ruleMonth;
  const secret = prices.secretsManager.secretMonth;
  const secretRefreshes = (refreshCalls / 10_000) * prices.secretsManager.per10kCalls;
  const kmsKey = prices.kms.keyMonth;
  const core = wafWebAcl + wafRules + secret + secretRefreshes + kmsKey;
  const alarms = deployment.alarms * prices.cloudWatch.alarmMonth;
  const customMetrics = deployment.customMetrics * prices.cloudWatch.metricMonth;
  return { wafWebAcl, wafRules, secret, secretRefreshes, kmsKey, core, alarms, customMetrics, total: core + alarms + customMetrics };
}

export interface Ec2Monthly {
  instance: number;
  ebs: number;
  publicIpv4: number;
  total: number;
}

/** A t4g.nano on demand around the clock with a small gp3 volume and its public IPv4 address (data out stays in the free 100 GB). */
export function ec2Monthly(deployment: Pick<Deployment, 'ec2EbsGb'>, prices: AwsPrices = AWS_PRICES): Ec2Monthly {
  const instance = prices.ec2.t4gNanoHour * prices.hoursPerMonth;
  const ebs = deployment.ec2EbsGb * prices.ec2.ebsGp3GbMonth;
  const publicIpv4 = prices.ec2.publicIpv4Hour * prices.hoursPerMonth;
  return { instance, ebs, publicIpv4, total: instance + ebs + publicIpv4 };
}

/**
 * Pins per month at which the serverless bill (fixed + pins × cost per pin) reaches the instance's: serverless is cheaper
 * below it. 0 when the fixed part alone already costs as much as the instance (serverless is never cheaper).
 */
export function breakEvenPinsPerMonth(perMillionPins: number, fixedMonthlyUsd: number, instanceMonthlyUsd: number): number {
  const headroom = instanceMonthlyUsd - fixedMonthlyUsd;
  if (headroom <= 0) return 0;
  if (perMillionPins <= 0) return Number.POSITIVE_INFINITY;
  return (headroom / perMillionPins) * 1e6;
}

/** Pins per month the Lambda free tier (400,000 GB-s, 1M requests) would cover at this many GB-s per pin. */
export function freeTierPins(gbSecondsPerPin: number, prices: AwsPrices = AWS_PRICES): number {
  return Math.min(prices.lambda.freeRequests, gbSecondsPerPin > 0 ? prices.lambda.freeGbSeconds / gbSecondsPerPin : Number.POSITIVE_INFINITY);
}
