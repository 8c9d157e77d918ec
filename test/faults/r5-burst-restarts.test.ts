import type { ChildProcess } from 'node:child_process';
import { startStack, uniq, type Stack } from '../support/stack';
import { startWorkerProcess, stopWorkerProcess } from '../support/worker-process';
import { faultSetting, ledgerOf, mailArrivals, printLedger } from './ledger';

const NOTIFICATIONS = faultSetting('HERALD_FAULT_R5_NOTIFICATIONS', 500);

/** R5: a burst of notifications while the worker is restarted twice (once killed, once stopped). */
describe('R5 a burst of notifications across two worker restarts', () => {
  let stack: Stack;
  let worker: ChildProcess | undefined;
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      sink: { envelopesOnly: true, maxMessages: NOTIFICATIONS * 2, dataDelayMs: 5 },
      apiEnv: { SEND_HEARTBEAT_TIMEOUT_MS: '2000', RATE_LIMIT_PER_MINUTE: '100000' },
    });
  });
  afterAll(async () => {
    if (worker) await stopWorkerProcess(worker, 'SIGKILL');
    await stack?.close();
  });

  it(`completes all ${NOTIFICATIONS}, each recipient reached`, async () => {
    const emails = Array.from({ length: NOTIFICATIONS }, (_, i) => `${uniq(`r5-${i}`)}@example.com`);
    worker = await startWorkerProcess(stack, {});
    const ids: string[] = [];
    const post = async (email: string) => {
      const created = await stack.api('POST', '/v1/notifications', {
        event: 'job.failed',
        to: { emails: [email] },
        channels: ['email'],
        data: { jobName: 'nightly-export', error: 'disk full' },
      });
      expect(created.status).toBe(202);
      ids.push(created.body.id);
    };
    const arrived = () => ledgerOf(emails, mailArrivals(stack.sink.envelopes())).delivered;
    const waitForArrivals = async (n: number) => {
      const deadline = Date.now() + 180_000;
      while (arrived() < n) {
        if (Date.now() > deadline) throw new Error(`only ${arrived()} of ${n} arrived`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    // The burst, 25 requests at a time, with a restart a third of the way and two thirds of the way in.
    const restarts: string[] = [];
    for (let i = 0; i < emails.length; i += 25) {
      await Promise.all(emails.slice(i, i + 25).map(post));
      if (restarts.length === 0 && i >= NOTIFICATIONS / 3) {
        await waitForArrivals(Math.floor(NOTIFICATIONS / 6));
        await stopWorkerProcess(worker, 'SIGKILL');
        restarts.push(`killed at ${arrived()}`);
        worker = await startWorkerProcess(stack, {});
      } else if (restarts.length === 1 && i >= (2 * NOTIFICATIONS) / 3) {
        await stopWorkerProcess(worker, 'SIGTERM');
        restarts.push(`stopped at ${arrived()}`);
        worker = await startWorkerProcess(stack, {});
      }
    }
    expect(ids).toHaveLength(NOTIFICATIONS);
    await waitForArrivals(NOTIFICATIONS);
    const deadline = Date.now() + 180_000;
    let open = NOTIFICATIONS;
    while (open > 0 && Date.now() < deadline) {
      const { rows } = await stack.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM notifications WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'failed', 'cancelled')`,
        [ids],
      );
      open = Number(rows[0]!.n);
      if (open > 0) await new Promise((r) => setTimeout(r, 250));
    }
    const { rows } = await stack.db.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM notifications WHERE id = ANY($1::uuid[]) GROUP BY status`,
      [ids],
    );
    const statuses = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
    const ledger = ledgerOf(emails, mailArrivals(stack.sink.envelopes()));
    printLedger(
      'R5 burst across restarts',
      ledger,
      `${restarts.join(', ')}; notifications ${JSON.stringify(statuses)}`,
    );
    expect(statuses).toEqual({ completed: NOTIFICATIONS });
    expect(ledger.lost).toBe(0);
    expect(ledger.unrecognisable).toBe(0);
    // Copies only from sends in flight at the kill (the graceful stop lets its sends finish).
    expect(ledger.duplicates).toBeLessThanOrEqual(10);
  }, 600_000);
});
