import { channelSettings } from '../../activities/channels/settings';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Pool } from 'pg';
import { migrate } from '../../db/migrate';
import { createPool } from '../../db/pool';
import { freePort } from '../../scripts/lib/ports';
import { ROOT } from '../support/env';
import { startPostgresProcess, type PostgresProcess } from '../support/pg-process';
import { TemplateRegistry } from '../../templates/registry';
import { buildChannels, createHeraldWorker } from '../../worker/create-worker';
import { startStack, uniq, waitForNotification, type Stack } from '../support/stack';
import { TcpProxy } from '../support/tcp-proxy';
import { faultSetting, ledgerOf, mailArrivals, printLedger } from './ledger';

const OUTAGE_S = faultSetting('HERALD_FAULT_DB_OUTAGE_S', 12);

/**
 * PostgreSQL goes away under the worker in the middle of a fan-out, for longer than a send batch's
 * whole retry policy (RETRY_MAX_ATTEMPTS 5, at most 1 s apart: about 4 s), then comes back. The
 * worker reaches the database only through a proxy the test cuts; the API and the test keep theirs.
 * Every recipient is reached and no delivery ends failed because of the outage.
 */
describe('R4 a database outage longer than the retry window', () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let workerDb: Pool;
  let worker: Worker;
  let workerRun: Promise<void>;
  let connection: NativeConnection;
  let closeChannels: () => Promise<void>;

  beforeAll(async () => {
    // Each message takes 150 ms at the server, so the fan-out is still running when the cut comes.
    stack = await startStack({ worker: false, sink: { dataDelayMs: 150 } });
    const target = new URL(stack.env.databaseUrl);
    proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.start();
    const proxied = new URL(stack.env.databaseUrl);
    proxied.port = String(proxy.port);
    workerDb = createPool(proxied.toString(), 10);
    const setup = buildChannels({
      settings: channelSettings({
        SMTP_URL: `${stack.sink.url}?tls=off`,
        SMTP_MAX_CONNECTIONS: '2',
        MAIL_FROM: 'Herald <h@test.local>',
      }),
      db: workerDb,
    });
    closeChannels = setup.close;
    connection = await NativeConnection.connect({ address: stack.env.temporalAddress });
    worker = await createHeraldWorker({
      connection,
      namespace: stack.env.namespace,
      taskQueue: stack.taskQueue,
      db: workerDb,
      channels: setup.channels,
      templates: await TemplateRegistry.load(),
      brandName: 'Herald Test',
      workflowBundle: { codePath: stack.env.workflowBundlePath },
    });
    workerRun = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await workerRun;
    await connection?.close();
    await closeChannels?.();
    await workerDb?.end();
    await proxy?.close();
    await stack?.close();
  });

  it('reaches every recipient once the database is back; none fails because of the outage', async () => {
    const emails = Array.from({ length: 40 }, (_, i) => `${uniq(`outage${i}`)}@example.com`);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { emails },
      channels: ['email'],
      data: { ticketId: '404', title: 'Database maintenance' },
    });
    expect(created.status).toBe(202);
    const mine = () => stack.sink.messages().filter((m) => emails.some((e) => m.envelopeTo.includes(e)));
    await stack.sink.waitFor(() => mine().length >= 3, 60_000);
    await proxy.cut();
    const atCut = mine().length;
    // Longer than five attempts at most 1 s apart.
    await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
    const duringOutage = mine().length - atCut;
    await proxy.restore();

    const view = await waitForNotification(stack, created.body.id, 120_000);
    const counts = view.counts as Record<string, number>;
    const ledger = ledgerOf(emails, mailArrivals(mine()));
    printLedger(
      'R4 database outage',
      ledger,
      `${atCut} before the cut, ${duringOutage} during it, log ${JSON.stringify(counts)}`,
    );
    const { lost, duplicates } = ledger;
    expect(view.status).toBe('completed');
    expect(counts.failed ?? 0).toBe(0);
    expect(counts.sent).toBe(emails.length);
    expect(lost).toBe(0);
    // A copy can only come from a send in flight when the connection dropped (one per SMTP connection).
    expect(duplicates).toBeLessThanOrEqual(2);
  });
});

/**
 * R4 with PostgreSQL itself stopped: a server of the test's own (persistent data directory), which
 * the API and the worker both use, is shut down mid fan-out for longer than the retry policy and
 * started again on the same data.
 */
describe('R4 PostgreSQL stopped and restarted on its data', () => {
  const dataDir = path.join(ROOT, '.tmp', `pg-r4-${process.pid}`);
  const password = randomBytes(12).toString('hex');
  let port: number;
  let pg: PostgresProcess;
  let stack: Stack;
  const start = () => startPostgresProcess({ dataDir, port, password });

  beforeAll(async () => {
    port = await freePort();
    pg = await start();
    const pool = createPool(pg.url, 2);
    await migrate(pool);
    await pool.end();
    stack = await startStack({ databaseUrl: pg.url, sink: { dataDelayMs: 150 } });
  });
  afterAll(async () => {
    await stack?.close();
    await pg?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('completes the notification with every recipient reached; none failed because of the outage', async () => {
    const emails = Array.from({ length: 40 }, (_, i) => `${uniq(`pgstop${i}`)}@example.com`);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { emails },
      channels: ['email'],
      data: { ticketId: '503', title: 'PostgreSQL restart' },
    });
    expect(created.status).toBe(202);
    const mine = () => stack.sink.messages().filter((m) => emails.some((e) => m.envelopeTo.includes(e)));
    await stack.sink.waitFor(() => mine().length >= 3, 60_000);
    await pg.stop();
    const atStop = mine().length;
    await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
    pg = await start();

    const view = await waitForNotification(stack, created.body.id, 120_000);
    const counts = view.counts as Record<string, number>;
    const ledger = ledgerOf(emails, mailArrivals(mine()));
    printLedger('R4 PostgreSQL stopped', ledger, `${atStop} before the stop, log ${JSON.stringify(counts)}`);
    expect(view.status).toBe('completed');
    expect(counts.failed ?? 0).toBe(0);
    expect(counts.sent).toBe(emails.length);
    expect(ledger.lost).toBe(0);
    // Copies only of the sends on the wire at the stop: at most one per SMTP connection (5).
    expect(ledger.duplicates).toBeLessThanOrEqual(5);
  });
});
