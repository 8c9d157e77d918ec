import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SendDueDigestsInput } from '../../activities/digest';
import type { DigestWorkflowResult } from '../../workflows/digest';
import { fakeActivityWorker, startTimeSkipping } from './time-skipping';

/**
 * A digest run over more pages than one run keeps in its history (200): it continues as new with
 * its cursor, cutoff and totals, so every page is visited once and the result counts them all.
 */
describe('the digest run continues as new over many pages', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTimeSkipping();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('visits 450 pages across three runs, each page once, with one cutoff', async () => {
    const PAGES = 450;
    const visited: number[] = [];
    const cutoffs = new Set<string>();
    const runIds = new Set<string>();
    const activities = {
      async sendDueDigests(input: SendDueDigestsInput) {
        const page = input.after ? Number(input.after.externalId) + 1 : 0;
        visited.push(page);
        cutoffs.add(input.cutoff);
        runIds.add(Context.current().info.workflowExecution?.runId ?? '');
        const next = page + 1 < PAGES ? { tenantId: 't', externalId: String(page) } : null;
        return {
          next,
          sent: [{ tenantId: 't', externalId: `r${page}`, items: 2, channel: 'email' as const }],
          failed: [],
        };
      },
    };
    const worker = await fakeActivityWorker(env, 'digest-can', activities);
    const result = (await worker.runUntil(
      env.client.workflow.execute('digestWorkflow', {
        taskQueue: 'digest-can',
        workflowId: 'digest-can',
        args: [{}],
      }),
    )) as DigestWorkflowResult;
    expect(visited).toEqual(Array.from({ length: PAGES }, (_, i) => i));
    expect(cutoffs.size).toBe(1);
    expect(result).toMatchObject({ digests: PAGES, items: 2 * PAGES, failed: 0 });
    // Three runs: the first two continued as new after 200 pages each.
    expect(runIds.size).toBe(3);
  });
});
