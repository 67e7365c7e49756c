/**
 * Published AWS list prices used by the bench's cost table (bench/cost.ts). One place, so they are easy to update.
 *
 * Region: us-east-1 (N. Virginia), USD, on-demand, no free tier, no savings plans. Price table as published on the AWS
 * pricing pages in 2025 (checked 2025; the last changes taken into account: DynamoDB on-demand throughput -50% from
 * 2024-11-01; Lambda bills the INIT phase of on-demand ZIP functions on managed runtimes from 2025-08-01; public IPv4
 * addresses billed from 2024-02-01). eu-west-1 is the same for Lambda, API Gateway, WAF and Secrets Manager, and a few
 * percent dearer for DynamoDB and EC2.
 */
export const AWS_PRICES = {
  region: 'us-east-1',
  date: '2025 (AWS pricing pages; DynamoDB on-demand since 2024-11-01, Lambda INIT billing since 2025-08-01)',
  lambda: {
    /** arm64, first 7.5 billion GB-s per month; duration billed per 1 ms, INIT included since 2025-08-01. */
    gbSecondArm64: 0.0000133334,
    perMillionRequests: 0.2,
    /** Always-free tier (per account and month), not applied in the table, only reported. */
    freeGbSeconds: 400_000,
    freeRequests: 1_000_000,
  },
  dynamodb: {
    /** On-demand, since 2024-11-01: a write unit = 1 KB written (2 in a transaction); a read unit = 4 KB strongly consistent read. */
    perMillionWriteUnits: 0.625,
    perMillionReadUnits: 0.125,
    storageGbMonth: 0.25,
  },
  apiGateway: {
    /** REST API, first 333 million requests per month. */
    restPerMillionRequests: 3.5,
  },
  waf: {
    webAclMonth: 5,
    ruleMonth: 1,
    perMillionRequests: 0.6,
  },
  secretsManager: {
    secretMonth: 0.4,
    per10kCalls: 0.05,
  },
  kms: {
    /** Customer-managed key (the sessions table's). */
    keyMonth: 1,
    per10kRequests: 0.03,
  },
  cloudWatch: {
    /** Custom metrics (EMF), first 10,000, billed per hour a metric is published. */
    metricMonth: 0.3,
    /** Standard-resolution alarm (per alarm metric). */
    alarmMonth: 0.1,
    /** Logs ingestion, standard class. */
    logsIngestedGb: 0.5,
  },
  xray: {
    /** Traces recorded, beyond 100,000 free per month. */
    perMillionTraces: 5,
  },
  ec2: {
    /** t4g.nano (2 vCPU burstable, 0.5 GiB), Linux, on-demand. */
    t4gNanoHour: 0.0042,
    /** gp3 storage. */
    ebsGp3GbMonth: 0.08,
    /** Public IPv4 address, in use or idle, since 2024-02-01. */
    publicIpv4Hour: 0.005,
    /** Data transfer out to the internet beyond the first 100 GB per month (free, all services together). */
    dataOutGb: 0.09,
  },
  hoursPerMonth: 730,
} as const;

export type AwsPrices = typeof AWS_PRICES;
