/**
 * Herald's benchmark (issue 10; run on demand, not in CI): every row in one run, on one fresh stack,
 * printed as one table and written as JSON.
 *
 *   npm run bench -- [--temporal dev|full] [--recipients 10000] [--messages 1000]
 *                    [--baseline-messages N] [--only limit,peer,ceiling,single,fanout,api]
 *                    [--json path] [--smtp-connections 5] [--batch-size N] [--concurrent-batches N]
 *                    [--peer-concurrency 50] [--in-flight 20] [--api-rate 100] [--api-seconds 10]
 *                    [--api-connections 32] [--inapp] [--timeout-minutes 60] [--set KEY=VALUE]…
 *                    [--cpu-prof dir] [--pg-statements]
 *
 * Rows: limit (pooled nodemailer → sink), peer (BullMQ + PostgreSQL delivery log), ceiling (bare
 * Temporal), single (Herald, N one-email notifications), fanout (Herald, one notification to
 * --recipients), api (fixed-rate latency and most accepted), and the Herald worker's peak RSS.
 * The limit and the peer send as many mails as the fan-out (--baseline-messages to change it).
 * docs/benchmark.md says what each row measures.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { loadBenchConfig, type BenchConfig, type RowName } from './config';
import { ROOT } from './lib/children';
import { startHerald } from './lib/herald';
import { machine, ratiosOf, renderTable, targetsOf, type Measurement, type RowFailure } from './lib/report';
import { describeStatements, resetStatements, statementCosts, type StatementCost } from './lib/pg-statements';
import { mb, RssSampler } from './lib/rss';
import { BENCH_EVENT, messageBytes, renderFor } from './lib/message';
import { startBenchStack } from './lib/stack';
import { apiRow } from './rows/api';
import { ceilingRow } from './rows/ceiling';
import { bracketCeiling } from './rows/ceiling-bracket';
import { log, type RowContext } from './rows/context';
import { fanoutRow } from './rows/fanout';
import { limitRow } from './rows/limit';
import { peerRow } from './rows/peer';
import { singleRow } from './rows/single';

const RUNNERS: Record<RowName, (ctx: RowContext) => Promise<Measurement[]>> = {
  limit: limitRow,
  peer: peerRow,
  ceiling: ceilingRow,
  single: singleRow,
  fanout: fanoutRow,
  api: apiRow,
};
const HERALD_ROWS: RowName[] = ['single', 'fanout', 'api'];
/** What a Herald row's first measurement counts: `--pg-statements` divides by it. */
const STATEMENT_UNITS: Partial<Record<RowName, string>> = {
  single: 'notification',
  fanout: 'mail',
  api: 'request',
};

/** Recipients the database needs: the fan-out's audience, and the single and API rows' one each. */
function recipientsNeeded(config: BenchConfig): number {
  const { rows, flags } = config;
  return Math.max(
    rows.includes('fanout') ? flags.recipients : 0,
    rows.includes('single') || rows.includes('api') ? flags.messages : 0,
  );
}

async function main(): Promise<number> {
  const config = loadBenchConfig();
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const startedAt = new Date();
  const host = machine();
  const header = [
    `command: ${config.commandLine}`,
    `machine: ${host.cores} cores (${host.cpu}), ${host.memoryGiB} GiB, node ${host.node}, ${host.os}`,
    `temporal: ${config.flags.temporal} server; rows: ${config.rows.join(', ')}`,
  ];
  log(header.join('\n'));

  const measurements: Measurement[] = [];
  const failures: RowFailure[] = [];
  const pgStatements: Partial<Record<RowName, StatementCost[]>> = {};
  let rss: RssSampler | undefined;
  let heraldSettings: Record<string, string> | undefined;
  const stack = await startBenchStack(config, recipientsNeeded(config));
  const ctx: RowContext = { config, stack };
  // Once, from the end of the run or from Ctrl-C / SIGTERM: a stopped bench leaves no server running.
  let closing: Promise<void> | undefined;
  const closeAll = () =>
    (closing ??= (async () => {
      rss?.stop();
      await ctx.herald?.stop().catch((error: unknown) => log(String(error)));
      await stack.close();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      log(`${signal}: stopping the processes and servers the bench started…`);
      void closeAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  /** The ceiling once more, after the single row: P1's anchor brackets it (see bracketCeiling). */
  const ceilingAgain = async () => {
    const before = measurements.filter((m) => m.key.startsWith('ceiling.'));
    if (before.length === 0) return; // the first run failed: nothing to bracket
    if (rss) rss.phase = 'idle';
    log('row ceiling, again after single…');
    try {
      const merged = bracketCeiling(before, await ceilingRow(ctx, { again: true }));
      for (const m of merged) measurements[measurements.findIndex((b) => b.key === m.key)] = m;
    } catch (error) {
      log(`row ceiling (again) failed: ${(error as Error).stack ?? String(error)}`);
      failures.push({ row: 'ceiling', error: `after single: ${(error as Error).message}` });
    }
  };
  let messageSize: number | undefined;
  try {
    messageSize = messageBytes(renderFor(stack.templates, 1, 'bench'));
    for (const row of config.rows) {
      if (HERALD_ROWS.includes(row) && !ctx.herald) {
        log('starting the Herald worker and API processes…');
        ctx.herald = await startHerald(config, stack);
        heraldSettings = ctx.herald.settings;
        rss = new RssSampler(ctx.herald.worker.pid);
        rss.phase = 'started';
        await rss.sample();
      }
      if (rss) rss.phase = row;
      log(`row ${row}…`);
      const countStatements = config.flags['pg-statements'] && HERALD_ROWS.includes(row);
      try {
        if (countStatements) await resetStatements(stack.db);
        const rowMeasurements = await RUNNERS[row](ctx);
        measurements.push(...rowMeasurements);
        if (countStatements && rowMeasurements[0]) {
          const costs = await statementCosts(stack.db, rowMeasurements[0].n);
          pgStatements[row] = costs;
          log(describeStatements(row, STATEMENT_UNITS[row] ?? 'unit', costs));
        }
        if (row === 'single' && config.rows.includes('ceiling')) await ceilingAgain();
      } catch (error) {
        log(`row ${row} failed: ${(error as Error).stack ?? String(error)}`);
        failures.push({ row, error: (error as Error).message });
      }
      if (rss) rss.phase = 'idle';
    }
    rss?.stop();
    if (rss) {
      const heraldRows = config.rows.filter((r) => HERALD_ROWS.includes(r));
      const perRow = ['started', ...heraldRows].map((r) => `${r} ${mb(rss!.peak(r))}`).join(', ');
      const fanout = rss.quarters('fanout');
      const trend = fanout ? `; fan-out 1st/last quarter ${mb(fanout.first)}/${mb(fanout.last)}` : '';
      measurements.push({
        key: 'rss',
        label: 'Herald worker RSS, peak',
        n: heraldRows.length,
        seconds: 0,
        value: mb(rss.peak(...heraldRows)),
        unit: 'MB',
        notes: `sampled every 200 ms; per row: ${perRow}${trend}; P6`,
        details: {
          fanoutQuarters: fanout && { firstMb: mb(fanout.first), lastMb: mb(fanout.last) },
          series: rss.series().map((s) => ({ t: Math.round(s.t), mb: mb(s.rss), phase: s.phase })),
        },
      });
    }
  } finally {
    await closeAll();
  }

  const targets = targetsOf(measurements);
  console.log(
    `\n${header.join('\n')}\nmessage: ${BENCH_EVENT} rendered by TemplateRegistry, ${((messageSize ?? 0) / 1024).toFixed(1)} KB (html+text); ` +
      `${stack.smtpConnections} SMTP connections everywhere` +
      (heraldSettings ? `; Herald: ${JSON.stringify(heraldSettings)}` : '') +
      '\n',
  );
  console.log(renderTable(measurements, failures, targets));

  const file =
    config.flags.json ??
    path.join(ROOT, 'bench', 'results', `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  const json = {
    command: config.commandLine,
    startedAt: startedAt.toISOString(),
    machine: host,
    temporal: config.flags.temporal,
    flags: config.flags,
    messageBytes: messageSize,
    herald: heraldSettings,
    rows: measurements.map((m) => ({ ...m, ratios: ratiosOf(m, measurements) })),
    failures,
    targets,
    ...(config.flags['pg-statements'] ? { pgStatements } : {}),
  };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwritten to ${path.resolve(file)}`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
