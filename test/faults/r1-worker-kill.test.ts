import type { ChildProcess } from 'node:child_process';
import { startStack, uniq, waitForNotification, type Stack } from '../support/stack';
import { startWorkerProcess, stopWorkerProcess } from '../support/worker-process';
import { faultSetting, ledgerOf, mailArrivals, printLedger } from './ledger';

const RECIPIENTS = faultSetting('HERALD_FAULT_R1_RECIPIENTS', 1000);

/** R1: the worker is SIGKILLed in the middle of a 1,000-recipient fan-out and a new one takes over. */
describe('R1 a worker SIGKILLed mid fan-out', () => {
  let stack: Stack;
  let worker: ChildProcess | undefined;
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      sink: { envelopesOnly: true, maxMessages: RECIPIENTS * 2, dataDelayMs: 5 },
      apiEnv: { SEND_HEARTBEAT_TIMEOUT_MS: '2000', BATCH_SIZE: '100', MAX_SENDS_PER_NOTIFICATION: '100000' },
    });
  });
  afterAll(async () => {
    if (worker) await stopWorkerProcess(worker, 'SIGKILL');
    await stack?.close();
  });

  it(`delivers all ${RECIPIENTS}; copies only for sends in flight at the kill, each with its Message-ID`, async () => {
    const emails = Array.from({ length: RECIPIENTS }, (_, i) => `${uniq(`r1-${i}`)}@example.com`);
    worker = await startWorkerProcess(stack, {});
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { emails },
      channels: ['email'],
      data: { ticketId: 'R1', title: 'Fan-out under a crash' },
    });
    expect(created.status).toBe(202);
    const arrived = () => ledgerOf(emails, mailArrivals(stack.sink.envelopes())).delivered;
    const deadline = Date.now() + 120_000;
    while (arrived() < RECIPIENTS / 4) {
      if (Date.now() > deadline) throw new Error(`only ${arrived()} mails before the kill`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await stopWorkerProcess(worker, 'SIGKILL');
    const atKill = arrived();
    const { rows } = await stack.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM deliveries WHERE notification_id = $1 AND status = 'sent'`,
      [created.body.id],
    );
    const loggedAtKill = Number(rows[0]!.n);
    worker = await startWorkerProcess(stack, {});

    const view = await waitForNotification(stack, created.body.id, 300_000);
    expect(view.status).toBe('completed');
    const ledger = ledgerOf(emails, mailArrivals(stack.sink.envelopes()));
    printLedger('R1 worker SIGKILL', ledger, `${atKill} arrived and ${loggedAtKill} logged at the kill`);
    expect(ledger.lost).toBe(0);
    expect(ledger.delivered).toBe(RECIPIENTS);
    // Only what had reached the server but not the log could go again: the sends in flight.
    expect(ledger.duplicates).toBeLessThanOrEqual(Math.max(0, atKill - loggedAtKill) + 5);
    expect(ledger.unrecognisable).toBe(0);
    expect(view.counts).toEqual({ sent: RECIPIENTS });
  });
});
