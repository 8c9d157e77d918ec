/**
 * The API under load, POST /v1/notifications (one email each, as the single row):
 *  - at a fixed rate (open loop: a request leaves on schedule whether or not earlier ones answered,
 *    and its latency counts from when it was due, so a stall is not hidden by sending less);
 *  - the most it accepts: a fixed number of connections, each sending as soon as it has an answer.
 * The notifications it accepts run on the worker meanwhile, as they would in production.
 */
import { openLoop, secondsSince } from '../lib/concurrency';
import { ApiClient, percentile } from '../lib/http';
import type { Measurement } from '../lib/report';
import { log, type RowContext } from './context';
import { singleRequest } from './single';

export async function apiRow(ctx: RowContext): Promise<Measurement[]> {
  const herald = ctx.herald!;
  const { flags } = ctx.config;
  const recipients = flags.messages;
  const rate = flags['api-rate'];
  const seconds = flags['api-seconds'];

  // Fixed rate.
  const open = new ApiClient(herald.apiUrl, ctx.stack.apiKey);
  const total = rate * seconds;
  const refusals = new Map<number, number>();
  const { latencies, seconds: fixedSeconds } = await openLoop(total, rate, async (i) => {
    const status = await open
      .post('/v1/notifications', singleRequest((i % recipients) + 1))
      .then((answer) => answer.status)
      .catch(() => 0);
    if (status !== 202) refusals.set(status, (refusals.get(status) ?? 0) + 1);
    return status === 202;
  });
  open.close();
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  log(`api: ${total} requests at ${rate}/s, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);

  // The most it accepts.
  const connections = flags['api-connections'];
  const closed = new ApiClient(herald.apiUrl, ctx.stack.apiKey, connections);
  const maxLatencies: number[] = [];
  let accepted = 0;
  let refused = 0;
  let next = 0;
  const maxStart = performance.now();
  const end = maxStart + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const sentAt = performance.now();
        const answer = await closed
          .post('/v1/notifications', singleRequest((next++ % recipients) + 1))
          .catch(() => ({ status: 0 }));
        if (answer.status === 202) {
          accepted++;
          maxLatencies.push(performance.now() - sentAt);
        } else refused++;
      }
    }),
  );
  const maxSeconds = secondsSince(maxStart);
  closed.close();
  log(`api: ${accepted} accepted in ${maxSeconds.toFixed(2)} s with ${connections} connections`);

  const refusedNote = (count: number) => (count > 0 ? `; ${count} not 202` : '');
  const fixedRefused = [...refusals.values()].reduce((a, b) => a + b, 0);
  return [
    {
      key: 'api.fixed',
      label: `API: POST at ${rate} req/s`,
      n: total,
      seconds: fixedSeconds,
      value: p99,
      unit: 'ms p50/p99',
      shown: `${p50.toFixed(1)}/${p99.toFixed(1)}`,
      notes: `latency from when each request was due${refusedNote(fixedRefused)}`,
      details: { rate, p50, p99, refusals: Object.fromEntries(refusals) },
    },
    {
      key: 'api.max',
      label: 'API: most it accepts',
      n: accepted,
      seconds: maxSeconds,
      value: accepted / maxSeconds,
      unit: 'accepted/s',
      notes: `${connections} connections, p50/p99 ${percentile(maxLatencies, 50).toFixed(0)}/${percentile(maxLatencies, 99).toFixed(0)} ms${refusedNote(refused)}; ÷ceiling = P4`,
      details: { connections, refused },
    },
  ];
}
