import { listDeliveriesOfNotification } from '../db/queries/deliveries';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

const RECIPIENTS = 50;
/** The sink holds each 250 this long: five connections send ~10 messages a second, so cancel lands mid-batch. */
const DATA_DELAY_MS = 500;
/** After the cancel answer, how long a message may still be on the wire before it counts as late. */
const GRACE_MS = 500;

/**
 * Cancel while the first batch is sending: the log must match what the SMTP server received, and the
 * answer must say how many went out before the cancel took effect.
 */
describe('cancel during a send', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sink: { dataDelayMs: DATA_DELAY_MS } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends nothing after the answer; the log says sent exactly for what arrived, skipped for the rest', async () => {
    const groupKey = uniq('cancel-group');
    expect((await stack.api('PUT', `/v1/groups/${groupKey}`, { name: 'Cancel during send' })).status).toBe(
      201,
    );
    const people = Array.from({ length: RECIPIENTS }, (_, i) => uniq(`c${i}`));
    await Promise.all(
      people.map(async (id) => {
        expect((await stack.api('PUT', `/v1/recipients/${id}`, { email: `${id}@example.com` })).status).toBe(
          201,
        );
        expect((await stack.api('PUT', `/v1/groups/${groupKey}/members/${id}`)).status).toBeLessThan(300);
      }),
    );

    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { groups: [groupKey] },
    });
    expect(created.status).toBe(202);
    const id: string = created.body.id;
    const received = () => stack.sink.messages().filter((m) => m.messageId.startsWith(`<${id}.`));

    // The first batch is under way: its second round of messages is in (so it has heartbeated once
    // already, and a next heartbeat waits for the throttle), most messages are not.
    await stack.sink.waitFor(() => received().length >= 8, 60_000);
    const cancel = await stack.api('POST', `/v1/notifications/${id}/cancel`);
    const answeredAt = Date.now();
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ cancelled: true });

    const done = await waitForNotification(stack, id);
    expect(done.status).toBe('cancelled');
    // Time for anything a still-running batch would send, were one left.
    await new Promise((r) => setTimeout(r, 4 * DATA_DELAY_MS + 2000));

    const arrivals = received();
    const late = arrivals.filter((m) => Date.parse(m.receivedAt) > answeredAt + GRACE_MS);
    const deliveries = await listDeliveriesOfNotification(stack.db, id);
    const got = new Set(arrivals.flatMap((m) => m.envelopeTo));
    const sent = deliveries.filter((d) => d.status === 'sent');
    const skipped = deliveries.filter((d) => d.status === 'skipped');
    console.log(
      `cancel during send: received ${arrivals.length}, sent ${sent.length}, skipped ${skipped.length}, ` +
        `sentBeforeCancel ${cancel.body.sentBeforeCancel}, late ${late.length}`,
    );

    expect(deliveries).toHaveLength(RECIPIENTS);
    expect(late.map((m) => `${m.envelopeTo.join(',')} at ${m.receivedAt}`)).toEqual([]);
    expect(arrivals.length).toBe(got.size); // nobody twice
    expect(arrivals.length).toBeGreaterThan(0);
    expect(arrivals.length).toBeLessThan(RECIPIENTS); // the cancel took effect mid-batch
    for (const delivery of deliveries) {
      if (got.has(delivery.address)) expect(delivery).toMatchObject({ status: 'sent' });
      else expect(delivery).toMatchObject({ status: 'skipped', error: 'cancelled' });
    }
    expect(cancel.body.sentBeforeCancel).toBe(arrivals.length);
    expect(done.counts).toEqual({ sent: arrivals.length, skipped: RECIPIENTS - arrivals.length });
  });
});
