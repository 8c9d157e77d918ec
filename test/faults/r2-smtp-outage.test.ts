import { startMailSink, type MailSink } from '../../scripts/lib/mail-sink';
import { startStack, uniq, waitForNotification, type Stack } from '../support/stack';
import { faultSetting, ledgerOf, mailArrivals, printLedger } from './ledger';

/** 60 s on demand (`npm run test:faults`), shorter in CI. */
const OUTAGE_S = faultSetting('HERALD_FAULT_SMTP_OUTAGE_S', 15);
const RECIPIENTS = 400;

/** R2: the SMTP server refuses connections for a while in the middle of a send, then comes back. */
describe('R2 the SMTP server goes away and comes back', () => {
  let stack: Stack;
  let revived: MailSink | undefined;
  beforeAll(async () => {
    stack = await startStack({
      // Answers at once: the outage falls between transactions, as when a server stops taking connections.
      sink: { maxMessages: RECIPIENTS * 3 },
      // Retries that outlast the outage: 2 s apart at most, as many as it takes.
      apiEnv: { RETRY_MAX_ATTEMPTS: '1000', RETRY_MAX_INTERVAL_MS: '2000' },
    });
  });
  afterAll(async () => {
    await revived?.close();
    await stack?.close();
  });

  it(`loses nothing and sends nothing twice; the notification says retrying meanwhile (${OUTAGE_S} s)`, async () => {
    const emails = Array.from({ length: RECIPIENTS }, (_, i) => `${uniq(`r2-${i}`)}@example.com`);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { emails },
      channels: ['email'],
      data: { ticketId: 'R2', title: 'Mail server maintenance' },
    });
    expect(created.status).toBe(202);
    await stack.sink.waitFor((all) => all.length >= 10, 60_000);
    const port = stack.sink.smtpPort;
    await stack.sink.close(); // connections refused from now on
    const before = mailArrivals(stack.sink.messages());

    const statesSeen = new Set<string>();
    const phasesSeen = new Set<string>();
    const until = Date.now() + OUTAGE_S * 1000;
    while (Date.now() < until) {
      const view = await stack.api('GET', `/v1/notifications/${created.body.id}`);
      phasesSeen.add(view.body.status);
      for (const r of view.body.recipients) for (const d of r.deliveries) statesSeen.add(d.status);
      await new Promise((r) => setTimeout(r, 500));
    }
    revived = await startMailSink({ smtpPort: port, maxMessages: RECIPIENTS * 3 });

    const view = await waitForNotification(stack, created.body.id, 120_000);
    const ledger = ledgerOf(emails, [...before, ...mailArrivals(revived.messages())]);
    printLedger(
      'R2 SMTP outage',
      ledger,
      `${before.length} before the outage, states seen: ${[...statesSeen].join(', ')}`,
    );
    expect(statesSeen).toContain('retrying');
    expect(phasesSeen).toEqual(new Set(['running']));
    expect(view.status).toBe('completed');
    expect(view.counts).toEqual({ sent: RECIPIENTS });
    expect(ledger.lost).toBe(0);
    expect(ledger.duplicates).toBe(0);
  });
});
