/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/connectors'],
  testMatch: ['**/*.spec.ts', '**/*.e2e.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Longest files first, also on a fresh clone that has no saved durations yet.
  testSequencer: '<rootDir>/test/sequencer.js',
  setupFiles: ['reflect-metadata'],
  testTimeout: 60_000,
  // Two cores: one worker runs suites while the database (embedded or real) takes the other.
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 2,
};
