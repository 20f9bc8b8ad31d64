const { flatModule } = require('./test/support/flat-module');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/connectors'],
  // Three tiers. Unit: `*.spec.ts` beside the code. Medium: `test/medium/*.medium.ts`, the services built
  // by createServices on the test database and called with a request context (test/support/services.ts),
  // for logic that needs a database but not HTTP. End to end: `test/e2e/*.e2e.ts`, a whole hub over
  // HTTP and WebSocket, for what crosses them.
  testMatch: ['**/*.spec.ts', '**/*.medium.ts', '**/*.e2e.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // A package of hundreds of small files, loaded by every suite that builds the services: one file
  // instead, the same code (test/support/flat-module.js says why).
  moduleNameMapper: {
    '^@stdlib/stats-base-dists-t-quantile$': flatModule('@stdlib/stats-base-dists-t-quantile'),
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Longest files first, also on a fresh clone that has no saved durations yet.
  testSequencer: '<rootDir>/test/sequencer.js',
  setupFiles: ['reflect-metadata'],
  testTimeout: 60_000,
  // Two cores: one worker runs suites while the database (embedded or real) takes the other.
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 2,
};
