import { describe, expect, it } from '@jest/globals';
import { AWS_PRICES } from '../../bench/aws-prices.js';
import { breakEvenPinsPerMonth, costPerMillionPins, ec2Monthly, fixedMonthly, freeTierPins, type Deployment } from '../../bench/cost.js';

const deployment: Deployment = {
  memoryMb: 1024,
  wafRules: 1,
  alarms: 5,
  customMetrics: 12,
  warmInstances: 1,
  secretCacheMinutes: 5,
  platformLogBytes: 0,
  tracesPerPin: 1,
  ec2EbsGb: 8,
};

describe('cost per million pins', () => {
  it('bills Lambda per GB-s of handler + INIT (rounded up to 1 ms), DynamoDB per unit, and the per-request services', () => {
    // Act: a 1 GB function, 999.2 ms handler + 0.4 ms INIT (billed 1000 + 1 ms), 2 RRU, 6 WRU, 1 secret read per pin
    const cost = costPerMillionPins({ handlerMs: 999.2, initMs: 0.4, readUnits: 2, writeUnits: 6, secretsCalls: 1, logBytes: 2 ** 30 / 1e6 }, deployment);
    // Assess
    expect(cost.gbSeconds).toBeCloseTo(1.001, 9);
    expect(cost.lambdaCompute).toBeCloseTo(1e6 * 1.001 * 0.0000133334, 6);
    expect(cost.lambdaRequests).toBe(0.2);
    expect(cost.dynamodbReads).toBeCloseTo(2 * 0.125, 9);
    expect(cost.dynamodbWrites).toBeCloseTo(6 * 0.625, 9);
    expect(cost.apiGateway).toBe(3.5);
    expect(cost.wafRequests).toBe(0.6);
    expect(cost.secretsManager).toBeCloseTo(100 * 0.05, 9); // 1M calls = 100 × 10k
    expect(cost.core).toBeCloseTo(cost.lambdaCompute + 0.2 + 0.25 + 3.75 + 3.5 + 0.6 + 5, 6);
    expect(cost.xray).toBe(5);
    expect(cost.logs).toBeCloseTo(0.5, 9); // 1 GiB of logs per million pins
    expect(cost.total).toBeCloseTo(cost.core + 5 + 0.5, 6);
  });

  it('bills no INIT for a warm instance and scales compute with memory', () => {
    // Act
    const small = costPerMillionPins({ handlerMs: 200, initMs: 0, readUnits: 0, writeUnits: 0, secretsCalls: 0, logBytes: 0 }, deployment);
    const large = costPerMillionPins({ handlerMs: 200, initMs: 0, readUnits: 0, writeUnits: 0, secretsCalls: 0, logBytes: 0 }, { ...deployment, memoryMb: 1769 });
    // Assess
    expect(small.gbSeconds).toBeCloseTo(0.2, 9);
    expect(large.gbSeconds).toBeCloseTo(0.2 * (1769 / 1024), 9);
    expect(small.secretsManager).toBe(0);
  });
});

describe('monthly costs', () => {
  it('adds WAF, the secret (stored and re-read every 5 minutes), the KMS key, alarms and metrics', () => {
    // Act
    const fixed = fixedMonthly(deployment);
    // Assess
    expect(fixed.wafWebAcl + fixed.wafRules).toBe(6);
    expect(fixed.secretRefreshes).toBeCloseTo(((12 * 730) / 10_000) * 0.05, 9);
    expect(fixed.core).toBeCloseTo(6 + 0.4 + fixed.secretRefreshes + 1, 9);
    expect(fixed.total).toBeCloseTo(fixed.core + 0.5 + 3.6, 9);
  });

  it('prices a t4g.nano around the clock with its volume and public IPv4 address', () => {
    // Act
    const ec2 = ec2Monthly({ ec2EbsGb: 8 });
    // Assess
    expect(ec2.instance).toBeCloseTo(0.0042 * 730, 9);
    expect(ec2.ebs).toBeCloseTo(0.64, 9);
    expect(ec2.publicIpv4).toBeCloseTo(3.65, 9);
    expect(ec2.total).toBeCloseTo(3.066 + 0.64 + 3.65, 9);
  });
});

describe('break-even', () => {
  it('is the pins per month at which fixed + pins × cost reaches the instance', () => {
    // $10 fixed, $50 per million, a $20 instance: 200,000 pins
    expect(breakEvenPinsPerMonth(50, 10, 20)).toBeCloseTo(200_000, 6);
  });

  it('is 0 (never cheaper) when the fixed part alone costs as much as the instance', () => {
    expect(breakEvenPinsPerMonth(50, 20, 20)).toBe(0);
    expect(breakEvenPinsPerMonth(50, 25, 20)).toBe(0);
  });

  it('counts the Lambda free tier in pins, capped by its requests', () => {
    expect(freeTierPins(2)).toBe(200_000);
    expect(freeTierPins(0.1)).toBe(AWS_PRICES.lambda.freeRequests);
  });
});
