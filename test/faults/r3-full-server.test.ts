import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dropDatabase, ensureDatabase, withDatabase } from '../../scripts/lib/databases';
import {
  startTemporalFullServer,
  type RunningTemporalFullServer,
} from '../../scripts/lib/temporal-full-server';
import { readTestEnv } from '../support/env';
import { startStack, uniq, waitForNotification, type Stack } from '../support/stack';
import { faultSetting, ledgerOf, mailArrivals, printLedger } from './ledger';

const DOWN_S = faultSetting('HERALD_FAULT_TEMPORAL_DOWN_S', 5);
const NOTIFICATIONS = 20;
const PER_NOTIFICATION = 5;

/**
 * R3 on the full Temporal server with PostgreSQL persistence: stopped in the middle of a run and
 * started again on the same databases (the dev-server variant is r3-temporal-restart.test.ts).
 */
describe('R3 the full Temporal server on PostgreSQL stopped mid-run and restarted on its data', () => {
  let dir: string;
  let adminUrl: string;
  let temporal: RunningTemporalFullServer;
  let stack: Stack;
  const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
  const databases = { main: `temporal_r3_${suffix}`, visibility: `temporal_r3_vis_${suffix}` };
  const server = process.env.TEMPORAL_SERVER;
  const sqlTool = process.env.TEMPORAL_SQL_TOOL;

  beforeAll(async () => {
    // Never a skip: without the binaries this fault goes unproven, and the run must say so.
    if (!server || !sqlTool)
      throw new Error('TEMPORAL_SERVER and TEMPORAL_SQL_TOOL are not set (source scripts/bootstrap.sh)');
    const { databaseUrl } = readTestEnv();
    adminUrl = withDatabase(databaseUrl, 'postgres');
    await ensureDatabase(adminUrl, databases.main);
    await ensureDatabase(adminUrl, databases.visibility);
    const url = new URL(databaseUrl);
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-r3-full-'));
    temporal = await startTemporalFullServer({
      server,
      sqlTool,
      pg: {
        host: url.hostname,
        port: Number(url.port || 5432),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
      },
      databases,
      dir,
    });
    stack = await startStack({
      temporalAddress: temporal.address,
      sink: { dataDelayMs: 100, maxMessages: NOTIFICATIONS * PER_NOTIFICATION * 3 },
      apiEnv: { SEND_HEARTBEAT_TIMEOUT_MS: '5000' },
    });
  }, 300_000);
  afterAll(async () => {
    await stack?.close();
    await temporal?.stop();
    if (adminUrl) {
      await dropDatabase(adminUrl, databases.main);
      await dropDatabase(adminUrl, databases.visibility);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it(`completes every notification once (${DOWN_S} s down)`, async () => {
    const emails: string[] = [];
    const ids: string[] = [];
    for (let n = 0; n < NOTIFICATIONS; n++) {
      const to = Array.from({ length: PER_NOTIFICATION }, (_, i) => `${uniq(`r3f-${n}-${i}`)}@example.com`);
      emails.push(...to);
      const created = await stack.api('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to: { emails: to },
        channels: ['email'],
        data: { ticketId: `R3F-${n}`, title: 'Temporal restart' },
      });
      expect(created.status).toBe(202);
      ids.push(created.body.id);
    }
    await stack.sink.waitFor((all) => all.length >= emails.length / 4, 120_000);
    await temporal.stop();
    const atStop = stack.sink.messages().length;
    expect(atStop).toBeLessThan(emails.length); // the stop came mid-run
    await new Promise((r) => setTimeout(r, DOWN_S * 1000));
    await temporal.restart();

    const views = [];
    for (const id of ids) views.push(await waitForNotification(stack, id, 240_000));
    const ledger = ledgerOf(emails, mailArrivals(stack.sink.messages()));
    printLedger('R3 full Temporal server restart', ledger, `${atStop} mails before the stop`);
    expect(views.map((v) => v.status)).toEqual(ids.map(() => 'completed'));
    expect(ledger.lost).toBe(0);
    expect(ledger.unrecognisable).toBe(0);
    // Nothing twice, except sends whose activity could not report back while the server was down.
    expect(ledger.duplicates).toBeLessThanOrEqual(5);
  }, 600_000);
});
