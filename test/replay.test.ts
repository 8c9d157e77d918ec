import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import * as workflows from '../workflows';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * Runs last (see test/support/sequencer.js): replays the history of every notification workflow
 * that ran on the test server against today's workflow code, so a change that breaks determinism
 * fails here instead of in production.
 */
/**
 * The newest runs, this file's own first: the suite leaves thousands (a bulk test alone starts 1,000
 * alike), and replaying them all would outlast the test's time.
 */
const REPLAY_AT_MOST = 400;

async function* firstOf<T>(items: AsyncIterable<T>, limit: number): AsyncIterable<T> {
  let n = 0;
  for await (const item of items) {
    if (n++ >= limit) return;
    yield item;
  }
}

describe('workflow replay', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      sink: { onRcpt: (a) => (a.startsWith('nouser-') ? { code: 550, message: 'no such user' } : undefined) },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('replays every finished notification workflow without non-determinism', async () => {
    // Its own runs, so the test never replays nothing: a success, a permanent failure, a mix.
    const audiences = [
      [`${uniq('ok')}@example.com`],
      [`${uniq('nouser')}@example.com`],
      [`${uniq('ok')}@example.com`, `${uniq('nouser')}@example.com`],
    ];
    for (const emails of audiences) {
      const created = await stack.api('POST', '/v1/notifications', { event: 'test_email', to: { emails } });
      await waitForNotification(stack, created.body.id);
    }

    const executions = stack.client.workflow.list({
      query: `WorkflowType = 'notificationWorkflow' AND ExecutionStatus != 'Running'`,
    });
    let replayed = 0;
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: stack.env.workflowBundlePath }, replayName: 'herald' },
      firstOf(executions.intoHistories(), REPLAY_AT_MOST),
    )) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    console.log(`replayed ${replayed} workflow histories, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(replayed).toBeGreaterThanOrEqual(audiences.length);
  });

  /** Histories recorded from released code (test/histories/README.md): runs in flight at an upgrade. */
  const HISTORIES = path.join(__dirname, 'histories');
  const recorded = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));

  it('has a recorded history of every workflow type', () => {
    const types = new Set(
      recorded.map(
        (file) =>
          JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')).events[0]
            .workflowExecutionStartedEventAttributes.workflowType.name as string,
      ),
    );
    expect([...types].sort()).toEqual(Object.keys(workflows).sort());
  });

  it.each(recorded)('replays the recorded history %s against today’s code', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')));
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: stack.env.workflowBundlePath }, replayName: 'herald' },
      history,
      file.replace(/\.json$/, ''),
    );
  });
});
