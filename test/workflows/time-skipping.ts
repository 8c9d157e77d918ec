import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../../common/temporal';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import path from 'node:path';

/** Herald's workflows and the test-only drivers (test/workflows/fixtures). */
const TEST_WORKFLOWS_PATH = path.join(__dirname, 'fixtures', 'index.ts');

/**
 * Temporal's time-skipping test server: timers fire as soon as every workflow is waiting, so a
 * 30-day escalation runs in seconds. scripts/bootstrap.sh fetches the Java build from Maven Central
 * (TEMPORAL_TEST_SERVER); without it the SDK would try to download one.
 */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_TEST_SERVER;
  const env = await TestWorkflowEnvironment.createTimeSkipping(
    path ? { server: { executable: { type: 'existing-path', path } } } : {},
  );
  // The workflows upsert Herald's search attributes; the test server knows only those registered.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      ALL_SEARCH_ATTRIBUTES.map((key) => [
        key.name,
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  return env;
}

let bundle: Promise<{ code: string }> | undefined;

/** A worker running Herald's real workflows over the given (fake) activities. */
export async function fakeActivityWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: Record<string, (...args: never[]) => unknown>,
): Promise<Worker> {
  bundle ??= bundleWorkflowCode({ workflowsPath: TEST_WORKFLOWS_PATH, logger: quietLogger });
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundle,
    activities,
  });
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};
