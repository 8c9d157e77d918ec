/**
 * The ceiling: bare Temporal on the same server as Herald's rows. N workflows of one send activity
 * each (bench/bare/), started with a fixed number of starts in flight while the worker runs them:
 * starts/s is what the server accepts, completed/s what it finishes.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { bareNotification } from '../bare/workflows';
import type { CeilingWorkerSettings } from '../processes/ceiling-worker';
import { startTsChild } from '../lib/children';
import { cpuPerUnit, cpuSnapshot, describeCpu } from '../lib/cpu';
import { deadline, Feed, inFlight, openLoop, secondsSince } from '../lib/concurrency';
import { awaitResults } from '../lib/history';
import { percentile } from '../lib/http';
import type { Measurement } from '../lib/report';
import { NAMESPACE } from '../lib/stack';
import { expectMails, log, type RowContext } from './context';

const TASK_QUEUE = 'bench-ceiling';
/** Herald's worker default (MAX_CONCURRENT_ACTIVITIES). */
const MAX_CONCURRENT_ACTIVITIES = 20;

/**
 * `again`: the ceiling's second run, after Herald's single row: only the 1,000 workflows (no fixed
 * rate), which `bracketCeiling` averages with the first.
 */
export async function ceilingRow(ctx: RowContext, options: { again?: boolean } = {}): Promise<Measurement[]> {
  const { flags } = ctx.config;
  const n = flags.messages;
  const settings: CeilingWorkerSettings = {
    address: ctx.stack.temporalAddress,
    namespace: NAMESPACE,
    taskQueue: TASK_QUEUE,
    sinkUrl: ctx.stack.sink.url,
    smtpConnections: ctx.stack.smtpConnections,
    maxConcurrentActivities: MAX_CONCURRENT_ACTIVITIES,
  };
  const worker = await startTsChild({
    script: 'bench/processes/ceiling-worker.ts',
    args: [JSON.stringify(settings)],
    env: ctx.config.baseEnv,
    ready: (line) => line.includes('ceiling worker ready'),
  });
  try {
    const run = Date.now().toString(36);
    const parts = {
      Temporal: ctx.stack.temporalPid,
      worker: worker.pid,
      PostgreSQL: ctx.stack.postgresPid,
    };
    const measured = await expectMails(ctx, n, 'ceiling', async () => {
      const handles = new Feed<WorkflowHandle>();
      const cpuBefore = await cpuSnapshot(parts);
      const start = performance.now();
      const results = awaitResults(handles);
      await inFlight(n, flags['in-flight'], async (i) => {
        handles.push(await startBare(ctx, `bare-${run}-${i}`, i));
      });
      const startSeconds = secondsSince(start);
      handles.end();
      await allCompleted(ctx, results, 'ceiling');
      const seconds = secondsSince(start);
      return { startSeconds, seconds, cpu: cpuPerUnit(cpuBefore, await cpuSnapshot(parts), n) };
    });
    log(
      `ceiling: ${n} started in ${measured.startSeconds.toFixed(2)} s, completed in ${measured.seconds.toFixed(2)} s`,
    );
    const fixed = options.again ? [] : [await startsAtFixedRate(ctx, run)];
    return [
      {
        key: 'ceiling.completed',
        label: 'ceiling: bare Temporal, completed',
        n,
        seconds: measured.seconds,
        value: n / measured.seconds,
        unit: 'completed/s',
        notes: `1 workflow + 1 send activity each, ${ctx.config.flags.temporal} server`,
      },
      {
        key: 'ceiling.starts',
        label: 'ceiling: bare Temporal, starts',
        n,
        seconds: measured.startSeconds,
        value: n / measured.startSeconds,
        unit: 'starts/s',
        notes: `${flags['in-flight']} starts in flight, worker running`,
      },
      {
        key: 'ceiling.cpu',
        label: 'ceiling: bare Temporal, CPU each',
        n,
        seconds: measured.seconds,
        value: measured.cpu.total,
        unit: 'ms CPU',
        notes: `${describeCpu(measured.cpu)}; bench: the process starting them`,
        details: { cpuMs: measured.cpu.parts },
      },
      ...fixed,
    ];
  } finally {
    await worker.stop();
  }
}

/**
 * P4b's anchor: bare workflow starts at the API row's rate and length, open loop (as the API row),
 * while the worker runs them: what a start alone costs in latency on this server at that rate.
 */
async function startsAtFixedRate(ctx: RowContext, run: string): Promise<Measurement> {
  const { flags } = ctx.config;
  const rate = flags['api-rate'];
  const total = rate * flags['api-seconds'];
  const loop = await expectMails(ctx, total, 'ceiling at a fixed rate', async () => {
    const handles = new Feed<WorkflowHandle>();
    const results = awaitResults(handles);
    const measured = await openLoop(total, rate, async (i) => {
      handles.push(await startBare(ctx, `bare-${run}-fixed-${i}`, i));
      return true;
    });
    handles.end();
    await allCompleted(ctx, results, 'ceiling at a fixed rate');
    return measured;
  });
  const p50 = percentile(loop.latencies, 50);
  const p99 = percentile(loop.latencies, 99);
  log(`ceiling: ${total} starts at ${rate}/s, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
  return {
    key: 'ceiling.fixed',
    label: `ceiling: bare starts at ${rate}/s`,
    n: total,
    seconds: loop.seconds,
    value: p99,
    unit: 'ms p50/p99',
    shown: `${p50.toFixed(1)}/${p99.toFixed(1)}`,
    notes: `latency from when each start was due, worker running${loop.failed ? `; ${loop.failed} failed` : ''}; P4b's anchor`,
    details: { rate, p50, p99, failed: loop.failed },
  };
}

/** One bare workflow (its argument numbers the message it sends). */
const startBare = (ctx: RowContext, workflowId: string, i: number): Promise<WorkflowHandle> =>
  ctx.stack.client.workflow.start<typeof bareNotification>('bareNotification', {
    taskQueue: TASK_QUEUE,
    workflowId,
    args: [i + 1],
  });

/** Waits for every started workflow to close, within the bench's timeout; any failure fails the row. */
async function allCompleted(
  ctx: RowContext,
  results: ReturnType<typeof awaitResults>,
  what: string,
): Promise<void> {
  const limit = deadline(ctx.config.flags['timeout-minutes'] * 60_000, what);
  try {
    const outcome = await Promise.race([results, limit.promise]);
    if (outcome.failed > 0) throw new Error(`${what}: ${outcome.failed} failed (${outcome.firstFailure})`);
  } finally {
    limit.clear();
  }
}
