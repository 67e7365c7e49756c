import { describe, expect, it } from '@jest/globals';
import { readSettings } from '../../infra/settings.js';
import { testApp } from './cdk-app.js';

const settingsOf = (overrides: Record<string, unknown> = {}) => readSettings(testApp(overrides).node);

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
      maxPinnedChats: 3,
      apiGatewayCloudWatchRole: false,
      alarmEmail: undefined,
      pinLatencyP95AlarmMs: 5000,
    });
  });

  it('parses -c overrides, which the CLI hands over as strings', () => {
    // Act
    const settings = settingsOf({
      stage: 'dev',
      throttleRateLimit: '0.5',
      throttleBurstLimit: '2',
      memorySize: '512',
      reservedConcurrency: '3',
      maxPinnedChats: '0',
      apiGatewayCloudWatchRole: 'true',
      alarmEmail: 'ops@example.com',
      pinLatencyP95AlarmMs: '8000',
    });
    // Assess
    expect(settings).toMatchObject({
      stage: 'dev',
      throttleRateLimit: 0.5,
      throttleBurstLimit: 2,
      memorySize: 512,
      reservedConcurrency: 3,
      maxPinnedChats: 0,
      apiGatewayCloudWatchRole: true,
      alarmEmail: 'ops@example.com',
      pinLatencyP95AlarmMs: 8000,
    });
    expect(settingsOf({ reservedConcurrency: 'none', alarmEmail: '' })).toMatchObject({ reservedConcurrency: undefined, alarmEmail: undefined });
    expect(settingsOf({ apiGatewayCloudWatchRole: 'false' }).apiGatewayCloudWatchRole).toBe(false);
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
    ['maxPinnedChats', '-1'],
    ['maxPinnedChats', '101'],
    ['apiGatewayCloudWatchRole', 'yes'],
    ['alarmEmail', 'ops'],
    ['alarmEmail', 'a@example.com,b@example.com'],
    ['pinLatencyP95AlarmMs', '50'],
  ])('rejects %s=%j with a message naming the key', (key, value) => {
    // Act / Assess
    expect(() => settingsOf({ [key]: value })).toThrow(new RegExp(`^context ${key} must`));
  });
});
