import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** One file per jest run (several runs may share a checkout): the global setup names it in the environment. */
export const testEnvFile = (pid: number = process.pid): string =>
  path.join(ROOT, '.tmp', `test-env-${pid}.json`);

/** What the global setup started, shared with every test file. */
export interface TestEnv {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  workflowBundlePath: string;
}

export function readTestEnv(): TestEnv {
  const file = process.env.HERALD_TEST_ENV_FILE;
  if (!file)
    throw new Error(
      'HERALD_TEST_ENV_FILE is not set: run the tests through jest (test/support/global-setup.ts)',
    );
  return JSON.parse(readFileSync(file, 'utf8')) as TestEnv;
}
