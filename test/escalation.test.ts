import { randomBytes } from 'node:crypto';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

describe('escalation, acknowledgement and cancel', () => {
  let stack: Stack;
  let first: { id: string; email: string };
  let second: { id: string; email: string };
  let groupKey: string;

  beforeAll(async () => {
    stack = await startStack();
    const person = async (name: string) => {
      const id = uniq(name);
      const email = `${id}@example.com`;
      expect((await stack.api('PUT', `/v1/recipients/${id}`, { name, email })).status).toBe(201);
      return { id, email };
    };
    first = await person('oncall');
    second = await person('manager');
    groupKey = uniq('escalate');
    await stack.api('PUT', `/v1/groups/${groupKey}`, { name: `Escalation ${groupKey}` });
    await stack.api('PUT', `/v1/groups/${groupKey}/members/${second.id}`);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const notify = (afterSeconds: number) =>
    stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [first.id] },
      data: { ticketId: uniq('t'), title: 'Server room too hot' },
      channels: ['email'],
      escalation: { levels: [{ afterSeconds, groups: [groupKey] }] },
    });
  const mailsTo = (email: string, notificationId: string) =>
    stack.sink
      .messages()
      .filter((m) => m.envelopeTo.includes(email) && m.messageId.startsWith(`<${notificationId}.`));

  it('without an acknowledgement, the next level fires after its delay; meanwhile the state is waiting_ack', async () => {
    const postedAt = Date.now();
    const created = await notify(2);
    expect(created.status).toBe(202);
    await stack.sink.waitFor(() => mailsTo(first.email, created.body.id).length === 1);
    let waiting;
    for (let i = 0; i < 50 && waiting?.status !== 'waiting_ack'; i++) {
      waiting = (await stack.api('GET', `/v1/notifications/${created.body.id}`)).body;
      if (waiting.status !== 'waiting_ack') await new Promise((r) => setTimeout(r, 50));
    }
    expect(waiting).toMatchObject({
      status: 'waiting_ack',
      progress: { escalation: { level: 0, levels: 1, nextAt: expect.any(String) } },
    });
    expect(Date.parse(waiting.progress.escalation.nextAt)).toBeGreaterThanOrEqual(postedAt + 1000);

    const done = await waitForNotification(stack, created.body.id);
    expect(done.status).toBe('completed');
    const [escalated] = mailsTo(second.email, created.body.id);
    expect(escalated).toBeDefined();
    expect(Date.parse(escalated!.receivedAt) - postedAt).toBeGreaterThanOrEqual(2000);
    const levels = done.recipients.flatMap((r: { deliveries: { level: number; address: string }[] }) =>
      r.deliveries.map((d) => [d.address, d.level]),
    );
    expect(levels).toEqual(
      expect.arrayContaining([
        [first.email, 0],
        [second.email, 1],
      ]),
    );
  });

  it('an acknowledgement before the delay stops the escalation, and the update answers at once', async () => {
    const created = await notify(4);
    await stack.sink.waitFor(() => mailsTo(first.email, created.body.id).length === 1);
    const ack = await stack.api('POST', `/v1/notifications/${created.body.id}/ack`, { by: first.id });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({
      accepted: true,
      reason: null,
      acknowledged: { by: first.id },
      stoppedLevels: 1,
    });
    const done = await waitForNotification(stack, created.body.id);
    expect(done.status).toBe('completed');
    expect(mailsTo(second.email, created.body.id)).toHaveLength(0);
    // Finished: nothing is left to acknowledge.
    const again = await stack.api('POST', `/v1/notifications/${created.body.id}/ack`, { by: second.id });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'notification_finished' } } });
    // Nothing more arrives after the level's delay has passed.
    await new Promise((r) => setTimeout(r, 4000 - (Date.now() - Date.parse(done.createdAt)) + 200));
    expect(mailsTo(second.email, created.body.id)).toHaveLength(0);
  });

  it('cancel stops the pending escalation, says what was pending, and nothing more is sent', async () => {
    const created = await notify(30);
    await stack.sink.waitFor(() => mailsTo(first.email, created.body.id).length === 1);
    const cancelled = await stack.api('POST', `/v1/notifications/${created.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      cancelled: true,
      pending: { escalationLevels: 1, nextEscalationAt: expect.any(String) },
    });
    const done = await waitForNotification(stack, created.body.id);
    expect(done.status).toBe('cancelled');
    expect(mailsTo(second.email, created.body.id)).toHaveLength(0);
    expect((await stack.api('POST', `/v1/notifications/${created.body.id}/cancel`)).status).toBe(409);
    const description = await stack.client.workflow.getHandle(created.body.workflowId).describe();
    expect(description.status.name).toBe('COMPLETED');
  });

  it('refuses an escalation level naming an unknown group, and a malformed policy', async () => {
    const unknown = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [first.id] },
      data: { ticketId: '1', title: 'x' },
      escalation: { levels: [{ afterSeconds: 60, groups: ['Nobody'] }] },
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details).toEqual([
      { path: 'escalation.levels[0].groups[0]', message: "unknown group 'Nobody'" },
    ]);
    const malformed = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [first.id] },
      data: { ticketId: '1', title: 'x' },
      escalation: { levels: [{ afterSeconds: 0 }] },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details[0].path).toBe('escalation.levels[0].afterSeconds');
  });
});

describe('the signed acknowledgement link in messages', () => {
  let stack: Stack;
  const secretKey = randomBytes(32).toString('base64');
  const publicBase = 'https://herald.example.com';
  beforeAll(async () => {
    stack = await startStack({
      channelEnv: { PUBLIC_BASE_URL: publicBase, HERALD_SECRET_KEY: secretKey },
      apiEnv: { HERALD_SECRET_KEY: secretKey },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('acknowledges from the link (GET shows a button, POST acknowledges), and a forged link is refused', async () => {
    const id = uniq('linked');
    const email = `${id}@example.com`;
    await stack.api('PUT', `/v1/recipients/${id}`, { email });
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { recipients: [id] },
      data: { ticketId: '77', title: 'Link me' },
      channels: ['email'],
      escalation: { levels: [{ afterSeconds: 30, channels: ['email'] }] },
    });
    const [mail] = await stack.sink.waitFor((all) => all.some((m) => m.envelopeTo.includes(email)));
    const link = /Acknowledge \(stops the escalation\): (\S+)/.exec(mail!.text)?.[1];
    expect(link).toMatch(new RegExp(`^${publicBase}/v1/notifications/${created.body.id}/ack-link\\?by=`));
    expect(mail!.html).toContain(`href="${link!.replaceAll('&', '&amp;')}"`);
    const local = link!.replace(publicBase, stack.baseUrl);
    // The link expires (ACK_LINK_TTL_SECONDS, default 7 days), and the expiry is signed with it.
    const exp = Number(new URL(link!).searchParams.get('exp'));
    expect(exp * 1000).toBeGreaterThan(Date.now() + 7 * 86_400_000 - 120_000);
    expect(exp * 1000).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
    const stretched = new URL(local);
    stretched.searchParams.set('exp', String(exp + 60));
    expect((await fetch(stretched, { method: 'POST' })).status).toBe(403);

    const forged = await fetch(local.replace(/sig=[^&]+/, 'sig=AAAA'), { method: 'POST' });
    expect(forged.status).toBe(403);
    const shown = await fetch(local);
    expect(await shown.text()).toContain('<form method="post">');
    const acked = await fetch(local, { method: 'POST' });
    expect(acked.status).toBe(200);
    expect(await acked.text()).toContain('Acknowledged');
    const done = await waitForNotification(stack, created.body.id);
    expect(done).toMatchObject({ status: 'completed', progress: null });
    const result = await stack.client.workflow.getHandle(created.body.workflowId).result();
    expect(result.acknowledged).toMatchObject({ by: id });
  });
});
