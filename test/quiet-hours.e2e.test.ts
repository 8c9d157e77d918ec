import { localParts } from '../common/quiet-hours';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

const ZONE = 'Asia/Kolkata';
const hhmmss = (at: number) => {
  const p = localParts(at, ZONE);
  return [p.hour, p.minute, p.second].map((n) => String(n).padStart(2, '0')).join(':');
};

/** Quiet hours in the recipient's zone that cover now and end a few seconds from now (seconds make it short). */
function windowEndingIn(ms: number) {
  const end = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { quietHours: { start: hhmmss(Date.now() - 60_000), end: hhmmss(end) }, end };
}

describe('quiet hours, end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function quietRecipient(ms: number) {
    const id = uniq('quiet');
    const email = `${id}@example.com`;
    const { quietHours, end } = windowEndingIn(ms);
    expect(
      (
        await stack.api('PUT', `/v1/recipients/${id}`, {
          name: 'Night Owl',
          email,
          timezone: ZONE,
          quietHours,
        })
      ).status,
    ).toBe(201);
    return { id, email, end };
  }
  const send = (id: string, priority: string) =>
    stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: uniq('q'), title: 'Disk almost full' },
      channels: ['email', 'inapp'],
      priority,
    });
  const mailsTo = (email: string) => stack.sink.messages().filter((m) => m.envelopeTo.includes(email));

  it('holds a normal email until the window ends (state: waiting_quiet_hours), while the silent inbox gets it at once', async () => {
    const who = await quietRecipient(4000);
    const created = await send(who.id, 'normal');
    let waiting;
    for (let i = 0; i < 60 && waiting?.status !== 'waiting_quiet_hours'; i++) {
      waiting = (await stack.api('GET', `/v1/notifications/${created.body.id}`)).body;
      if (waiting.status !== 'waiting_quiet_hours') await new Promise((r) => setTimeout(r, 50));
    }
    expect(waiting).toMatchObject({
      status: 'waiting_quiet_hours',
      progress: { quietHours: { deliveries: 1, nextAt: new Date(who.end).toISOString() } },
    });
    const email = waiting.recipients[0].deliveries.find((d: { channel: string }) => d.channel === 'email');
    expect(email).toMatchObject({ status: 'pending', notBefore: new Date(who.end).toISOString() });
    expect(mailsTo(who.email)).toHaveLength(0);

    const done = await waitForNotification(stack, created.body.id);
    expect(done).toMatchObject({ status: 'completed', counts: { sent: 2 } });
    const [mail] = mailsTo(who.email);
    expect(Date.parse(mail!.receivedAt)).toBeGreaterThanOrEqual(who.end);
    const inbox = done.recipients[0].deliveries.find((d: { channel: string }) => d.channel === 'inapp');
    expect(Date.parse(inbox.sentAt)).toBeLessThan(who.end);
  });

  it('sends a critical notification at once, inside the window', async () => {
    const who = await quietRecipient(30_000);
    const created = await send(who.id, 'critical');
    const done = await waitForNotification(stack, created.body.id);
    expect(done).toMatchObject({ status: 'completed', counts: { sent: 2 } });
    expect(Date.parse(mailsTo(who.email)[0]!.receivedAt)).toBeLessThan(who.end);
  });

  it('a cancel during quiet hours means nothing is ever sent for that notification', async () => {
    const who = await quietRecipient(3000);
    const created = await send(who.id, 'low');
    for (let i = 0; i < 60; i++) {
      const { body } = await stack.api('GET', `/v1/notifications/${created.body.id}`);
      if (body.status === 'waiting_quiet_hours') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = await stack.api('POST', `/v1/notifications/${created.body.id}/cancel`);
    expect(cancelled.body).toMatchObject({ cancelled: true, pending: { quietHoursDeliveries: 1 } });
    const done = await waitForNotification(stack, created.body.id);
    expect(done.status).toBe('cancelled');
    // Past the window's end, still nothing.
    await new Promise((r) => setTimeout(r, Math.max(0, who.end - Date.now()) + 500));
    expect(mailsTo(who.email)).toHaveLength(0);
    const email = done.recipients[0].deliveries.find((d: { channel: string }) => d.channel === 'email');
    expect(email).toMatchObject({ status: 'skipped', error: 'cancelled' });
  });

  it("holds the email of a recipient without quiet hours of their own during the tenant's default window", async () => {
    const id = uniq('tenantquiet');
    const email = `${id}@example.com`;
    expect((await stack.api('PUT', `/v1/recipients/${id}`, { email })).status).toBe(201);
    const { quietHours, end } = windowEndingIn(3000);
    const put = await stack.api('PUT', '/v1/settings/quiet-hours', { quietHours, timezone: ZONE });
    expect(put).toMatchObject({ status: 200, body: { quietHours, timezone: ZONE } });
    try {
      const created = await send(id, 'normal');
      const done = await waitForNotification(stack, created.body.id);
      expect(done.status).toBe('completed');
      expect(Date.parse(mailsTo(email)[0]!.receivedAt)).toBeGreaterThanOrEqual(end);
    } finally {
      expect(
        (await stack.api('PUT', '/v1/settings/quiet-hours', { quietHours: null, timezone: null })).status,
      ).toBe(200);
    }
    const invalid = await stack.api('PUT', '/v1/settings/quiet-hours', {
      quietHours: { start: '25:00', end: '07:00' },
      timezone: 'Mars/Olympus',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'quietHours.start',
      'timezone',
    ]);
  });
});
