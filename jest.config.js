/**
 * Three tiers, so a change can be checked in seconds and still be proven on real services:
 * - unit: pure code, no services (`npm run test:unit`);
 * - workflows: the real workflows over fake activities on Temporal's time-skipping test server
 *   (`npm run test:workflows`), for days-long timers;
 * - e2e: everything on a real Temporal dev server, PostgreSQL and loopback providers;
 * - faults: the fault suite (R1–R5, `npm run test:faults`), on the same services, each with a ledger of
 *   what the loopback providers received. CI runs it with shorter outages; HERALD_FAULT_* set the full ones.
 * `npm test` runs all of them.
 */
const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // Scalar's Hono middleware ships ESM only; jest (on Node 20) loads CommonJS, so compile just it.
    '/node_modules/@scalar/.+\\.js$': [
      '@swc/jest',
      { jsc: { target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!@scalar/(hono-api-reference|client-side-rendering)/)'],
};

/** Started only when a test of the project runs: PostgreSQL, the Temporal dev server, the workflow bundle. */
const services = {
  ...shared,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  testSequencer: '<rootDir>/test/support/sequencer.js',
  testTimeout: 120000,
  maxWorkers: 1,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...shared, displayName: 'workflows', testMatch: ['<rootDir>/test/workflows/**/*.test.ts'] },
    { ...services, displayName: 'e2e', testMatch: ['<rootDir>/test/*.test.ts'] },
    { ...services, displayName: 'faults', testMatch: ['<rootDir>/test/faults/**/*.test.ts'] },
  ],
};
