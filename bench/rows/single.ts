/**
 * Herald, small notifications: N notifications of one email each through POST /v1/notifications,
 * a fixed number of requests in flight. accepted/s is how fast the API answered 202 to all of them;
 * completed/s runs from the first POST until every workflow has finished.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { deadline, Feed, inFlight, secondsSince } from '../lib/concurrency';
import { cpuPerUnit, cpuSnapshot, describeCpu } from '../lib/cpu';
import { awaitResults } from '../lib/history';
import { ApiClient } from '../lib/http';
import { BENCH_DATA, BENCH_EVENT, recipientOf } from '../lib/message';
import type { Measurement } from '../lib/report';
import { expectMails, log, type RowContext } from './context';

/** One email to one known recipient: the request the single row and the API row send. */
export const singleRequest = (i: number) => ({
  event: BENCH_EVENT,
  to: { recipients: [recipientOf(i).externalId] },
  channels: ['email'],
  data: BENCH_DATA,
});

export async function singleRow(ctx: RowContext): Promise<Measurement[]> {
  const herald = ctx.herald!;
  const { flags } = ctx.config;
  const n = flags.messages;
  const api = new ApiClient(herald.apiUrl, ctx.stack.apiKey, flags['in-flight']);
  const parts = {
    Temporal: ctx.stack.temporalPid,
    worker: herald.worker.pid,
    PostgreSQL: ctx.stack.postgresPid,
    API: herald.api.pid,
  };
  try {
    const measured = await expectMails(ctx, n, 'single', async () => {
      const handles = new Feed<WorkflowHandle>();
      const results = awaitResults(handles);
      const cpuBefore = await cpuSnapshot(parts);
      const start = performance.now();
      await inFlight(n, flags['in-flight'], async (i) => {
        const answer = await api.post('/v1/notifications', singleRequest(i + 1));
        if (answer.status !== 202)
          throw new Error(`POST /v1/notifications: ${answer.status} ${answer.body.slice(0, 300)}`);
        const { workflowId } = JSON.parse(answer.body) as { workflowId: string };
        handles.push(ctx.stack.client.workflow.getHandle(workflowId));
      });
      const acceptSeconds = secondsSince(start);
      handles.end();
      const limit = deadline(flags['timeout-minutes'] * 60_000, 'single');
      try {
        const outcome = await Promise.race([results, limit.promise]);
        if (outcome.failed > 0) throw new Error(`single: ${outcome.failed} failed (${outcome.firstFailure})`);
      } finally {
        limit.clear();
      }
      const seconds = secondsSince(start);
      return { acceptSeconds, seconds, cpu: cpuPerUnit(cpuBefore, await cpuSnapshot(parts), n) };
    });
    log(
      `single: ${n} accepted in ${measured.acceptSeconds.toFixed(2)} s, completed in ${measured.seconds.toFixed(2)} s`,
    );
    return [
      {
        key: 'single.completed',
        label: 'Herald: single-recipient, completed',
        n,
        seconds: measured.seconds,
        value: n / measured.seconds,
        unit: 'completed/s',
        notes: 'first POST to last workflow closed; ÷ceiling = P1',
      },
      {
        key: 'single.accepted',
        label: 'Herald: single-recipient, accepted',
        n,
        seconds: measured.acceptSeconds,
        value: n / measured.acceptSeconds,
        unit: 'accepted/s',
        notes: `${flags['in-flight']} requests in flight; ÷ceiling: ÷ bare starts/s`,
      },
      {
        key: 'single.cpu',
        label: 'Herald: single-recipient, CPU each',
        n,
        seconds: measured.seconds,
        value: measured.cpu.total,
        unit: 'ms CPU',
        notes: `${describeCpu(measured.cpu)}; bench: the process posting them; ÷ceiling: ÷ its CPU each`,
        details: { cpuMs: measured.cpu.parts },
      },
    ];
  } finally {
    api.close();
  }
}
