import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TEST_ENV_FILE = path.join(ROOT, '.tmp', 'test-env.json');

/** What the global setup started, shared with every test file. */
export interface TestEnv {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  workflowBundlePath: string;
}

export function readTestEnv(): TestEnv {
  return JSON.parse(readFileSync(TEST_ENV_FILE, 'utf8')) as TestEnv;
}
