/**
 * Herald, a big fan-out: one notification to the Bench group (--recipients members), email only
 * (--inapp adds the in-app inbox), from the POST until the workflow's result. Also how long each
 * history grew: the largest run across continue-as-new runs and child workflows (P3).
 */
import { deadline, secondsSince } from '../lib/concurrency';
import { diagnose, executionsOf } from '../lib/history';
import { ApiClient } from '../lib/http';
import { BENCH_DATA, BENCH_EVENT } from '../lib/message';
import type { Measurement } from '../lib/report';
import { cpuSecondsOf } from '../lib/cpu';
import { log, type RowContext } from './context';

const PROGRESS_EVERY_MS = 30_000;

export async function fanoutRow(ctx: RowContext): Promise<Measurement[]> {
  const herald = ctx.herald!;
  const { flags } = ctx.config;
  const n = flags.recipients;
  const channels = flags.inapp ? ['email', 'inapp'] : ['email'];
  const api = new ApiClient(herald.apiUrl, ctx.stack.apiKey, 1);
  const before = await ctx.stack.sink.count();
  const sent = async () => (await ctx.stack.sink.count()) - before;
  const cpuBefore = await cpuSecondsOf(herald.worker.pid);
  const start = performance.now();
  const answer = await api.post('/v1/notifications', {
    event: BENCH_EVENT,
    to: { groups: ['Bench'] },
    channels,
    data: BENCH_DATA,
  });
  api.close();
  if (answer.status !== 202) throw new Error(`POST /v1/notifications: ${answer.status} ${answer.body}`);
  const { workflowId } = JSON.parse(answer.body) as { workflowId: string };
  const handle = ctx.stack.client.workflow.getHandle(workflowId);
  const progress = setInterval(() => {
    void sent().then((mails) => log(`fanout: ${secondsSince(start).toFixed(0)} s, ${mails} mails received`));
  }, PROGRESS_EVERY_MS);
  const limit = deadline(flags['timeout-minutes'] * 60_000, 'fanout');
  let outcome: { counts?: Record<string, number> };
  try {
    outcome = (await Promise.race([handle.result(), limit.promise])) as typeof outcome;
  } catch (error) {
    const why = await diagnose(handle).catch((e: unknown) => `no diagnostics: ${(e as Error).message}`);
    throw new Error(`fanout: ${(error as Error).message} (${await sent()} mails)\n${why}`, { cause: error });
  } finally {
    clearInterval(progress);
    limit.clear();
  }
  const seconds = secondsSince(start);
  const cpuAfter = await cpuSecondsOf(herald.worker.pid);
  const workerCpuMsPerMail =
    cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / n;
  const mails = await sent();
  if (mails !== n) throw new Error(`fanout: the sink received ${mails} mails for ${n} recipients`);
  log(`fanout: ${mails} mails in ${seconds.toFixed(2)} s; reading its histories…`);
  const executions = await executionsOf(ctx.stack.client, workflowId);
  const runs = executions.filter((e) => e.workflowId === workflowId);
  const maxEventsPerRun = Math.max(...executions.map((e) => e.events));
  const totalEvents = executions.reduce((sum, e) => sum + e.events, 0);
  return [
    {
      key: 'fanout',
      label: `Herald: fan-out to ${n.toLocaleString('en')}`,
      n,
      seconds,
      value: mails / seconds,
      unit: 'mails/s',
      notes: `${channels.join('+')}; ${runs.length} run(s), ${executions.length - runs.length} child(ren), max ${maxEventsPerRun} events/run, ${totalEvents} in all${workerCpuMsPerMail === null ? '' : `; worker CPU ${workerCpuMsPerMail.toFixed(2)} ms/mail`}`,
      details: {
        workflowId,
        runs: runs.length,
        children: executions.length - runs.length,
        maxEventsPerRun,
        totalEvents,
        workerCpuMsPerMail,
        counts: outcome.counts,
      },
    },
  ];
}
