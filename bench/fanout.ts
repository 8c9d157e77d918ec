import { randomBytes } from 'node:crypto';
/**
 * Fan-out benchmark (run on demand, not in CI): one notification to a group of N recipients through
 * the real stack (Temporal dev server on SQLite, PostgreSQL, worker, API, a loopback SMTP sink), against
 * the baseline of pooled nodemailer sending straight into the same sink. Prints a table with the time,
 * the throughput, the notification workflow's history length and the largest history of every
 * execution involved (the notification workflow and any children or continued runs).
 *
 *   npm run bench -- --recipients 100000 [--batch-size 200] [--concurrent-batches 4] [--smtp-connections 5]
 *                    [--timeout-minutes 60]
 *
 * Progress goes to stderr every 30 s; past the timeout it prints the workflow's pending activities
 * and their last failures, and exits 1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createApp } from '../api/app';
import { createTenantWithKey } from '../api/services/tenancy';
import { loadApiConfig } from '../api/config';
import { createSmtpTransport } from '../activities/channels/email';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { startMailSink } from '../scripts/lib/mail-sink';
import { freePort } from '../scripts/lib/ports';
import { startEmbeddedPostgres } from '../scripts/lib/postgres';
import { startTemporalDevServer } from '../scripts/lib/temporal-dev-server';
import { TemplateRegistry } from '../templates/registry';
import { buildChannels, createHeraldWorker } from '../worker/create-worker';

/** The benchmark's own tenant in its fresh database. */
const BENCH_TENANT = 'bench';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 1) throw new Error(`--${name} must be a positive number`);
  return value;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

interface ExecutionStats {
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
}

/**
 * Every execution a notification involved: what visibility lists under its workflow id prefix, plus
 * whatever the histories point at (child workflows, continue-as-new runs), recursively.
 */
async function executionsOf(client: Client, workflowId: string): Promise<ExecutionStats[]> {
  const queue: { workflowId: string; runId?: string }[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}'` })) {
    queue.push({ workflowId: wf.workflowId, runId: wf.runId });
  }
  if (!queue.some((wf) => wf.workflowId === workflowId)) queue.push({ workflowId });
  const seen = new Map<string, ExecutionStats>();
  while (queue.length > 0) {
    const next = queue.shift()!;
    const handle = client.workflow.getHandle(next.workflowId, next.runId);
    const runId = next.runId ?? (await handle.describe()).runId;
    if (seen.has(`${next.workflowId}/${runId}`)) continue;
    const events = (await handle.fetchHistory()).events ?? [];
    seen.set(`${next.workflowId}/${runId}`, { workflowId: next.workflowId, runId, events });
    for (const e of events) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const continued = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (continued) queue.push({ workflowId: next.workflowId, runId: continued });
    }
  }
  return [...seen.values()];
}

const eventMs = (e: HistoryEvent): number =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/**
 * Seconds from scheduling the first audience resolution to its completion ('-' if it never
 * completed), with the attempt that completed it and the last failure before, when it was retried.
 */
function resolveSeconds(events: HistoryEvent[]): string {
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareDeliveries',
  );
  if (!scheduled) return '-';
  const of = (id: unknown) => String(id ?? '') === String(scheduled.eventId);
  const started = events.find((e) => of(e.activityTaskStartedEventAttributes?.scheduledEventId));
  const completed = events.find((e) => of(e.activityTaskCompletedEventAttributes?.scheduledEventId));
  if (!completed) return '-';
  const seconds = ((eventMs(completed) - eventMs(scheduled)) / 1000).toFixed(2);
  const attempt = started?.activityTaskStartedEventAttributes?.attempt ?? 1;
  if (attempt <= 1) return seconds;
  const failure = started?.activityTaskStartedEventAttributes?.lastFailure?.message ?? '?';
  return `${seconds} (attempt ${attempt}; before: ${failure})`;
}

/** The workflow's pending activities (attempt, last failure) and recent task failures, for a stuck run. */
async function diagnose(handle: WorkflowHandle): Promise<string> {
  const description = await handle.describe();
  const pending = (description.raw.pendingActivities ?? []).map(
    (a) =>
      `${a.activityType?.name} attempt ${a.attempt} (${a.state}): ${a.lastFailure?.message ?? 'no failure yet'}`,
  );
  const events = (await handle.fetchHistory()).events ?? [];
  const failures = events
    .map(
      (e) =>
        e.workflowTaskFailedEventAttributes?.failure?.message ??
        e.activityTaskFailedEventAttributes?.failure?.message ??
        (e.activityTaskTimedOutEventAttributes
          ? `activity timed out: ${e.activityTaskTimedOutEventAttributes.failure?.message ?? ''}`
          : undefined),
    )
    .filter(Boolean);
  return [
    `workflow ${description.status.name}, ${events.length} history events`,
    `pending: ${pending.length ? pending.join('; ') : 'none'}`,
    `last failures: ${JSON.stringify(failures.slice(-3))}`,
  ].join('\n');
}

/** The workflow's result, with progress on stderr; past the deadline, why it is stuck. */
async function resultWithin(
  handle: WorkflowHandle,
  timeoutMs: number,
  sent: () => number,
  startedAt: number,
): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const progress = setInterval(() => {
    const elapsed = ((performance.now() - startedAt) / 1000).toFixed(0);
    console.error(`[bench] ${elapsed} s: ${sent()} mails received`);
  }, 30_000);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void diagnose(handle)
        .catch((error: unknown) => `no diagnostics: ${(error as Error).message}`)
        .then((why) =>
          reject(
            new Error(`notification not finished after ${timeoutMs / 60_000} min (${sent()} mails)\n${why}`),
          ),
        );
    }, timeoutMs);
  });
  try {
    return await Promise.race([handle.result(), deadline]);
  } finally {
    clearTimeout(timer);
    clearInterval(progress);
  }
}

async function main(): Promise<void> {
  const recipients = arg('recipients', 10_000);
  const batchSize = arg('batch-size', 200);
  const concurrentBatches = arg('concurrent-batches', 4);
  const smtpConnections = arg('smtp-connections', 5);
  const timeoutMinutes = arg('timeout-minutes', 60);
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('set TEMPORAL_CLI (scripts/bootstrap.sh builds one into .tools/bin/temporal)');
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-'));
  await import('node:fs/promises').then((fs) => fs.chmod(dir, 0o755));
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'pg'),
    port: await freePort(),
    persistent: false,
    password: randomBytes(18).toString('hex'), // a throwaway server: any fresh secret will do
  });
  const temporal = await startTemporalDevServer({
    cli,
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: path.join(dir, 'temporal.db'),
  });
  const sink = await startMailSink({ countOnly: true });
  const db = createPool(pg.url, 20);
  // The sink is plain SMTP on loopback: say so, or the STARTTLS requirement refuses it.
  const sinkUrl = `${sink.url}?tls=off`;
  const rows: string[][] = [];
  try {
    await migrate(db);
    const tenant = await createTenantWithKey(db, BENCH_TENANT, 'Benchmark');
    if (!tenant) throw new Error(`tenant ${BENCH_TENANT} exists already in a fresh database`);
    await db.query(
      `INSERT INTO recipients (tenant_id, external_id, name, email)
       SELECT $2, 'bench-' || i, 'Bench ' || i, 'bench-' || i || '@example.com' FROM generate_series(1, $1) i`,
      [recipients, BENCH_TENANT],
    );
    await db.query(`INSERT INTO groups (tenant_id, key, name) VALUES ($1, 'bench', 'Bench')`, [BENCH_TENANT]);
    await db.query(
      `INSERT INTO group_members (tenant_id, group_key, external_id)
       SELECT $2, 'bench', 'bench-' || i FROM generate_series(1, $1) i`,
      [recipients, BENCH_TENANT],
    );

    // Baseline: pooled nodemailer straight into the sink, same message size and connections.
    const templates = await TemplateRegistry.load();
    const sample = templates.renderEmail('ticket.assigned', {
      data: { ticketId: '1', title: 'Benchmark' },
      recipient: { name: 'Bench', email: 'b@example.com', externalId: 'b' },
      brand: { name: 'Herald' },
      notification: { id: 'bench', event: 'ticket.assigned', priority: 'normal' },
    });
    const transport = createSmtpTransport({ url: sinkUrl, maxConnections: smtpConnections });
    const baselineStart = performance.now();
    await Promise.all(
      Array.from({ length: recipients }, (_, i) =>
        transport.sendMail({ from: 'bench@herald.local', to: `bench-${i}@example.com`, ...sample }),
      ),
    );
    const baselineSeconds = (performance.now() - baselineStart) / 1000;
    transport.close();
    rows.push([
      'nodemailer pool → sink',
      String(recipients),
      baselineSeconds.toFixed(2),
      (recipients / baselineSeconds).toFixed(0),
      '-',
      '-',
      '-',
      '-',
    ]);

    // Herald: the whole path from POST to the workflow's completion.
    const taskQueue = 'bench';
    const setup = buildChannels({
      env: {
        SMTP_URL: sinkUrl,
        SMTP_MAX_CONNECTIONS: String(smtpConnections),
        MAIL_FROM: 'bench@herald.local',
      },
      db,
    });
    const workerConnection = await NativeConnection.connect({ address: temporal.address });
    const worker = await createHeraldWorker({
      connection: workerConnection,
      namespace: 'default',
      taskQueue,
      db,
      channels: setup.channels,
      templates,
      brandName: 'Herald',
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    const config = loadApiConfig({
      DATABASE_URL: pg.url,
      TEMPORAL_ADDRESS: temporal.address,
      HERALD_TASK_QUEUE: taskQueue,
      BATCH_SIZE: String(batchSize),
      MAX_CONCURRENT_BATCHES: String(concurrentBatches),
      // The bench measures throughput, not the abuse limits.
      MAX_SENDS_PER_NOTIFICATION: String(Math.max(100_000, recipients * 4)),
      RATE_LIMIT_PER_MINUTE: '0',
    });
    const app = createApp({ db, temporal: client, templates, config });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    const before = sink.receivedCount();
    const start = performance.now();
    const response = await fetch(`${base}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.key}` },
      body: JSON.stringify({
        event: 'ticket.assigned',
        to: { groups: ['Bench'] },
        data: { ticketId: '1', title: 'Benchmark' },
      }),
    });
    if (response.status !== 202) {
      throw new Error(`POST /v1/notifications: ${response.status} ${await response.text()}`);
    }
    const created = (await response.json()) as { id: string; workflowId: string };
    const handle = client.workflow.getHandle(created.workflowId);
    const outcome = (await resultWithin(
      handle,
      timeoutMinutes * 60_000,
      () => sink.receivedCount() - before,
      start,
    )) as { counts: Record<string, number> };
    const seconds = (performance.now() - start) / 1000;
    const sent = sink.receivedCount() - before;
    const executions = await executionsOf(client, created.workflowId);
    const own = executions.find((e) => e.workflowId === created.workflowId);
    const largest = Math.max(...executions.map((e) => e.events.length));
    rows.push([
      'Herald notification',
      String(sent),
      seconds.toFixed(2),
      (sent / seconds).toFixed(0),
      own ? resolveSeconds(own.events) : '-',
      String(own?.events.length ?? 0),
      `${largest} of ${executions.length}`,
      JSON.stringify(outcome.counts),
    ]);

    server.close();
    worker.shutdown();
    await running;
    await setup.close();
    await workerConnection.close();
    await connection.close();
  } finally {
    await db.end();
    await sink.close();
    await temporal.stop();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const header = [
    'path',
    'mails',
    'seconds',
    'mails/s',
    'resolve s',
    'history events',
    'largest history (of executions)',
    'deliveries',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(
    `\nfan-out to ${recipients} recipients, batch ${batchSize}, ${concurrentBatches} batches in flight, ${smtpConnections} SMTP connections\n`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  rows.forEach((r) => console.log(line(r)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
