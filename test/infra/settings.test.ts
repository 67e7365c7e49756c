import { describe, expect, it } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import { readSettings } from '../../infra/settings.js';
import { cdkContext } from './cdk-app.js';

const settingsOf = (overrides: Record<string, unknown> = {}) => readSettings(new App({ context: cdkContext(overrides) }).node);

describe('readSettings', () => {
  it('reads the defaults from cdk.json', () => {
    // Act
    const settings = settingsOf();
    // Assess
    expect(settings).toEqual({
      stage: 'prod',
      defaultDeviceId: 'default',
      throttleRateLimit: 5,
      throttleBurstLimit: 10,
      memorySize: 1769,
      reservedConcurrency: undefined,
    });
  });

  it('parses -c overrides, which the CLI hands over as strings', () => {
    // Act
    const settings = settingsOf({ stage: 'dev', throttleRateLimit: '0.5', throttleBurstLimit: '2', memorySize: '512', reservedConcurrency: '3' });
    // Assess
    expect(settings).toMatchObject({ stage: 'dev', throttleRateLimit: 0.5, throttleBurstLimit: 2, memorySize: 512, reservedConcurrency: 3 });
    expect(settingsOf({ reservedConcurrency: 'none' }).reservedConcurrency).toBeUndefined();
  });

  it.each([
    ['stage', 'prod stage'],
    ['stage', ''],
    ['defaultDeviceId', 'a/b'],
    ['throttleRateLimit', '0'],
    ['throttleRateLimit', 'fast'],
    ['throttleBurstLimit', '1.5'],
    ['memorySize', '64'],
    ['memorySize', '20000'],
    ['reservedConcurrency', '0'],
  ])('rejects %s=%j with a message naming the key', (key, value) => {
    // Act / Assess
    expect(() => settingsOf({ [key]: value })).toThrow(new RegExp(`^context ${key} must`));
  });
});
