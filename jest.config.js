/**
 * Three tiers, so a change can be checked in seconds and still be proven on real services:
 * - unit: pure code, no services (`npm run test:unit`);
 * - workflows: the real workflows over fake activities on Temporal's time-skipping test server
 *   (`npm run test:workflows`), for days-long timers;
 * - e2e: everything on a real Temporal dev server, PostgreSQL and loopback providers.
 * `npm test` runs all three.
 */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
};

/** @type {import('jest').Config} */
module.exports = {
  testSequencer: '<rootDir>/test/support/sequencer.js',
  testTimeout: 120000,
  maxWorkers: 1,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...shared, displayName: 'workflows', testMatch: ['<rootDir>/test/workflows/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/*.test.ts'],
      // Started only when an e2e test runs: PostgreSQL, the Temporal dev server, the workflow bundle.
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
