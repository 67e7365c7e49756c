/** jest 30 in native ESM: TypeScript through @swc/jest, node_modules loaded natively. */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/env.ts'],
  // Every log line of the run is captured and checked for secrets (test/support/log-capture-*.ts).
  setupFilesAfterEnv: ['<rootDir>/test/support/log-capture-setup.ts'],
  reporters: ['default', '<rootDir>/test/support/log-capture-reporter.ts'],
  testTimeout: 30000,
  // Two workers on a 2-core machine: most suites wait on the simulator, DynamoDB Local (another process)
  // or child processes, so two of them overlap (jest's default is cores − 1: one).
  maxWorkers: 2,
};
