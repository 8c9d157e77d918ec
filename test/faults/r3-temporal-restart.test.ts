import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/lib/ports';
import { startTemporalDevServer, type RunningTemporal } from '../../scripts/lib/temporal-dev-server';
import { startStack, uniq, waitForNotification, type Stack } from '../support/stack';
import { faultSetting, ledgerOf, mailArrivals, printLedger } from './ledger';

const DOWN_S = faultSetting('HERALD_FAULT_TEMPORAL_DOWN_S', 5);
const NOTIFICATIONS = 20;
const PER_NOTIFICATION = 5;

/**
 * R3: the Temporal server is stopped in the middle of a run and started again on the same data (the
 * dev server with its database file). The full Temporal server with PostgreSQL persistence is not
 * run here (see the README's fault suite notes).
 */
describe('R3 the Temporal server stopped mid-run and restarted on its data', () => {
  let dir: string;
  let temporal: RunningTemporal;
  let port: number;
  let uiPort: number;
  let stack: Stack;
  const cli = process.env.TEMPORAL_CLI;
  const start = () =>
    startTemporalDevServer({ cli: cli!, port, uiPort, dbFile: path.join(dir, 'temporal.db') });

  beforeAll(async () => {
    if (!cli) throw new Error('TEMPORAL_CLI is not set (npm test sets it: scripts/bootstrap.sh)');
    dir = await mkdtemp(path.join(os.tmpdir(), 'herald-r3-'));
    [port, uiPort] = [await freePort(), await freePort()];
    temporal = await start();
    stack = await startStack({
      temporalAddress: temporal.address,
      sink: { dataDelayMs: 100, maxMessages: NOTIFICATIONS * PER_NOTIFICATION * 3 },
      apiEnv: { SEND_HEARTBEAT_TIMEOUT_MS: '5000' },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await temporal?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`completes every notification once (${DOWN_S} s down)`, async () => {
    const emails: string[] = [];
    const ids: string[] = [];
    for (let n = 0; n < NOTIFICATIONS; n++) {
      const to = Array.from({ length: PER_NOTIFICATION }, (_, i) => `${uniq(`r3-${n}-${i}`)}@example.com`);
      emails.push(...to);
      const created = await stack.api('POST', '/v1/notifications', {
        event: 'ticket.assigned',
        to: { emails: to },
        channels: ['email'],
        data: { ticketId: `R3-${n}`, title: 'Temporal restart' },
      });
      expect(created.status).toBe(202);
      ids.push(created.body.id);
    }
    await stack.sink.waitFor((all) => all.length >= emails.length / 4, 60_000);
    await temporal.stop();
    const atStop = stack.sink.messages().length;
    expect(atStop).toBeLessThan(emails.length); // the stop came mid-run
    await new Promise((r) => setTimeout(r, DOWN_S * 1000));
    temporal = await start();

    const views = [];
    for (const id of ids) views.push(await waitForNotification(stack, id, 180_000));
    const ledger = ledgerOf(emails, mailArrivals(stack.sink.messages()));
    printLedger('R3 Temporal restart', ledger, `${atStop} mails before the stop`);
    expect(views.map((v) => v.status)).toEqual(ids.map(() => 'completed'));
    expect(ledger.lost).toBe(0);
    expect(ledger.unrecognisable).toBe(0);
    // Nothing twice, except sends whose activity could not report back while the server was down.
    expect(ledger.duplicates).toBeLessThanOrEqual(5);
  }, 600_000);
});
