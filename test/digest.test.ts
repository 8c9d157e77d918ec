import { zonedTimeToUtc } from '../common/quiet-hours';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

const DAY = 86_400_000;

/**
 * 08:00 local in `timezone` on the UTC date `days` from today. With days >= 2 it lies ahead of the
 * clock in every zone, so the items a test creates now fall before a run's cutoff at that instant.
 */
function eightAmLocal(timezone: string, days: number): string {
  const d = new Date(Date.now() + days * DAY);
  const date = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
  return new Date(zonedTimeToUtc({ ...date, hour: 8, minute: 0 }, timezone)).toISOString();
}

describe('the digest workflow, end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  // Limited to the stack's tenant: other files' pending items are not this run's business.
  const runDigest = (now: string) =>
    stack.client.workflow.execute('digestWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: uniq('digest'),
      args: [{ now, tenantId: stack.tenantId }],
    });
  const mailsTo = (email: string) => stack.sink.messages().filter((m) => m.envelopeTo.includes(email));

  async function digestRecipient(timezone: string) {
    const id = uniq(`digest-${timezone.split('/')[1]!.toLowerCase()}`);
    const email = `${id}@example.com`;
    const put = await stack.api('PUT', `/v1/recipients/${id}`, {
      name: 'Digest Reader',
      email,
      timezone,
      digest: { events: ['ticket.assigned'], frequency: 'daily', hour: 8 },
    });
    expect(put.status).toBe(201);
    return { id, email, tickets: [] as string[] };
  }

  async function notify(who: { id: string; tickets: string[] }): Promise<string> {
    const ticketId = uniq('t');
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [who.id] },
      data: { ticketId, title: 'Needs a look' },
      channels: ['email'],
      priority: 'normal',
    });
    expect(created.status).toBe(202);
    const done = await waitForNotification(stack, created.body.id);
    expect(done.recipients[0].deliveries).toEqual([
      expect.objectContaining({ channel: 'email', status: 'digested' }),
    ]);
    who.tickets.push(ticketId);
    return created.body.id;
  }

  const items = async (id: string) =>
    (
      await stack.db.query<{ id: string; notification_id: string; sent_at: Date | null }>(
        'SELECT id::text, notification_id, sent_at FROM digest_items WHERE external_id = $1 ORDER BY id',
        [id],
      )
    ).rows;

  it('sends one digest per recipient at 08:00 in their own zone, each item exactly once, and late items in the next', async () => {
    const harare8am = eightAmLocal('Africa/Harare', 2);
    const london8am = eightAmLocal('Europe/London', 2);
    const newYork8am = eightAmLocal('America/New_York', 2);
    const london8amNextDay = eightAmLocal('Europe/London', 3);
    expect(Date.parse(harare8am)).toBeGreaterThan(Date.now());
    const harare = await digestRecipient('Africa/Harare');
    const london = await digestRecipient('Europe/London');
    const newYork = await digestRecipient('America/New_York');
    for (const who of [harare, london, newYork]) {
      await notify(who);
      await notify(who);
      expect(await items(who.id)).toHaveLength(2);
    }
    expect(mailsTo(harare.email)).toHaveLength(0);

    // 08:00 in Harare: only Harare's digest.
    await runDigest(harare8am);
    const [harareDigest] = await stack.sink.waitFor(() => mailsTo(harare.email).length >= 1);
    expect(mailsTo(harare.email)).toHaveLength(1);
    const harareMail = mailsTo(harare.email)[0]!;
    expect(harareMail.subject).toMatch(/digest: 2 updates/);
    expect(harareMail.messageId).toMatch(/^<digest-[0-9a-f]{32}\./);
    for (const ticket of harare.tickets) {
      expect(harareMail.text).toContain(`#${ticket}`);
      expect(harareMail.html).toContain(`#${ticket}`);
    }
    for (const ticket of [...london.tickets, ...newYork.tickets])
      expect(harareMail.text).not.toContain(ticket);
    expect(harareMail.text).toContain('ticket.assigned (2)');
    expect(harareDigest).toBeDefined();
    expect(mailsTo(london.email)).toHaveLength(0);
    expect(mailsTo(newYork.email)).toHaveLength(0);
    expect((await items(harare.id)).every((i) => i.sent_at !== null)).toBe(true);
    expect((await items(london.id)).every((i) => i.sent_at === null)).toBe(true);

    // Harare's hour again: nothing left to send.
    await runDigest(harare8am);
    expect(mailsTo(harare.email)).toHaveLength(1);

    // An item for London created after the London run's cutoff waits for the next due run.
    await notify(london);
    const late = (await items(london.id)).at(-1)!;
    await stack.db.query(
      `UPDATE digest_items SET created_at = $2::timestamptz + interval '30 seconds' WHERE id = $1`,
      [late.id, london8am],
    );
    await runDigest(london8am);
    await stack.sink.waitFor(() => mailsTo(london.email).length >= 1);
    const londonMail = mailsTo(london.email)[0]!;
    expect(londonMail.subject).toMatch(/digest: 2 updates/);
    expect(londonMail.text).toContain(`#${london.tickets[0]}`);
    expect(londonMail.text).toContain(`#${london.tickets[1]}`);
    expect(londonMail.text).not.toContain(london.tickets[2]!);
    expect((await items(london.id)).map((i) => i.sent_at !== null)).toEqual([true, true, false]);
    expect(mailsTo(newYork.email)).toHaveLength(0);

    await runDigest(newYork8am);
    await stack.sink.waitFor(() => mailsTo(newYork.email).length >= 1);
    const newYorkMail = mailsTo(newYork.email)[0]!;
    for (const ticket of newYork.tickets) expect(newYorkMail.text).toContain(`#${ticket}`);
    for (const ticket of [...harare.tickets, ...london.tickets])
      expect(newYorkMail.text).not.toContain(ticket);
    expect((await items(newYork.id)).every((i) => i.sent_at !== null)).toBe(true);

    // The next London morning: the late item alone.
    await runDigest(london8amNextDay);
    await stack.sink.waitFor(() => mailsTo(london.email).length >= 2);
    const nextLondon = mailsTo(london.email)[1]!;
    expect(nextLondon.subject).toMatch(/digest: 1 update$/);
    expect(nextLondon.text).toContain(`#${london.tickets[2]}`);
    expect(nextLondon.text).not.toContain(london.tickets[0]!);
    expect(nextLondon.messageId).not.toBe(londonMail.messageId);
    expect((await items(london.id)).every((i) => i.sent_at !== null)).toBe(true);

    // One digest each so far, and no more.
    expect(mailsTo(harare.email)).toHaveLength(1);
    expect(mailsTo(london.email)).toHaveLength(2);
    expect(mailsTo(newYork.email)).toHaveLength(1);
  });

  it('three runs at once send one digest: every item in exactly one', async () => {
    const id = uniq('digest-hourly');
    const email = `${id}@example.com`;
    await stack.api('PUT', `/v1/recipients/${id}`, {
      email,
      digest: { events: ['ticket.assigned'], frequency: 'hourly' },
    });
    const who = { id, tickets: [] as string[] };
    for (let i = 0; i < 3; i++) await notify(who);
    // Any instant ahead of the clock (an hourly digest is always due), so all three items are before it.
    const now = new Date(Date.now() + DAY).toISOString();
    const runs = await Promise.all([runDigest(now), runDigest(now), runDigest(now)]);
    expect(runs.reduce((n, r) => n + r.items, 0)).toBeGreaterThanOrEqual(3);
    await stack.sink.waitFor(() => mailsTo(email).length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    const mails = mailsTo(email);
    const listed = who.tickets.map((t) => mails.filter((m) => m.text.includes(`#${t}`)).length);
    expect(listed).toEqual([1, 1, 1]);
    expect((await items(id)).every((i) => i.sent_at !== null)).toBe(true);
  });

  it('sends one digest per period however many runs fall in it; later items wait for the next period', async () => {
    const id = uniq('digest-period');
    const email = `${id}@example.com`;
    await stack.api('PUT', `/v1/recipients/${id}`, {
      email,
      timezone: 'UTC',
      digest: { events: ['ticket.assigned'], frequency: 'hourly' },
    });
    const who = { id, tickets: [] as string[] };
    // An hour two days ahead of the clock, and the runs a 15-minute schedule makes in it.
    const hour = Math.floor((Date.now() + 2 * DAY) / 3_600_000) * 3_600_000;
    const at = (minutes: number) => new Date(hour + minutes * 60_000).toISOString();
    await notify(who);
    await runDigest(at(0));
    await stack.sink.waitFor(() => mailsTo(email).length >= 1);
    await notify(who);
    for (const minutes of [15, 30, 45]) {
      const run = await runDigest(at(minutes));
      expect(run.digests).toBe(0);
    }
    expect(mailsTo(email)).toHaveLength(1);
    expect((await items(id)).map((i) => i.sent_at !== null)).toEqual([true, false]);
    const next = await runDigest(at(60));
    expect(next.digests).toBe(1);
    await stack.sink.waitFor(() => mailsTo(email).length >= 2);
    expect(mailsTo(email)[1]!.text).toContain(`#${who.tickets[1]}`);
    expect(mailsTo(email)[1]!.text).not.toContain(who.tickets[0]!);
  });

  it('gives a recipient without email their digest in the in-app inbox', async () => {
    const id = uniq('digest-noemail');
    await stack.api('PUT', `/v1/recipients/${id}`, {
      phone: '+15550001234',
      digest: { events: ['ticket.assigned'], frequency: 'hourly' },
    });
    const ticketId = uniq('t');
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId, title: 'Needs a look' },
      channels: ['sms'],
    });
    expect(created.status).toBe(202);
    const done = await waitForNotification(stack, created.body.id);
    expect(done.recipients[0].deliveries).toEqual([
      expect.objectContaining({ channel: 'sms', status: 'digested' }),
    ]);
    const run = await runDigest(new Date(Date.now() + DAY).toISOString());
    expect(run.digests).toBe(1);
    const inbox = await stack.api('GET', `/v1/recipients/${id}/inbox`);
    expect(inbox.status).toBe(200);
    expect(inbox.body.items).toHaveLength(1);
    expect(inbox.body.items[0].title).toMatch(/digest: 1 update$/);
    expect(inbox.body.items[0].body).toContain('ticket.assigned (1)');
    expect((await items(id)).every((i) => i.sent_at !== null)).toBe(true);
  });
});
