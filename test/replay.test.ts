import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { notificationWorkflowId } from '../common/temporal';
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
/**
 * And no more histories are fetched after this long: on a loaded CI machine fetching and replaying
 * 400 took longer than the test's time. The newest (this file's own among them) come first, so a cut
 * still replays what the change under test just ran.
 */
const REPLAY_BUDGET_MS = 60_000;
const TEST_TIMEOUT_MS = REPLAY_BUDGET_MS + 120_000;

async function* firstOf<T>(items: AsyncIterable<T>, limit: number, deadline: number): AsyncIterable<T> {
  let n = 0;
  for await (const item of items) {
    if (n++ >= limit || Date.now() > deadline) return;
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

  it(
    'replays every finished notification workflow without non-determinism',
    async () => {
      // Its own runs, so the test never replays nothing: a success, a permanent failure, a mix.
      const audiences = [
        [`${uniq('ok')}@example.com`],
        [`${uniq('nouser')}@example.com`],
        [`${uniq('ok')}@example.com`, `${uniq('nouser')}@example.com`],
      ];
      const own = new Set<string>();
      for (const emails of audiences) {
        const created = await stack.api('POST', '/v1/notifications', { event: 'test_email', to: { emails } });
        await waitForNotification(stack, created.body.id);
        own.add(notificationWorkflowId(created.body.id));
      }

      const executions = stack.client.workflow.list({
        query: `WorkflowType = 'notificationWorkflow' AND ExecutionStatus != 'Running'`,
      });
      let replayed = 0;
      const failures: string[] = [];
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: { codePath: stack.env.workflowBundlePath }, replayName: 'herald' },
        firstOf(executions.intoHistories(), REPLAY_AT_MOST, Date.now() + REPLAY_BUDGET_MS),
      )) {
        replayed++;
        own.delete(result.workflowId);
        if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
      }
      console.log(`replayed ${replayed} workflow histories, ${failures.length} failed`);
      expect(failures).toEqual([]);
      expect(replayed).toBeGreaterThanOrEqual(audiences.length);
      expect([...own]).toEqual([]); // its own runs were among those replayed
    },
    TEST_TIMEOUT_MS,
  );

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
