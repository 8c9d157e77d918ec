import { randomUUID } from 'node:crypto';
import { createNotificationActivities } from '../activities/notifications';
import type { ChannelRegistry } from '../activities/channels/types';
import type { NotificationRequest } from '../common/types';
import { insertNotificationOnce } from '../db/queries/notifications';
import { TemplateRegistry } from '../templates/registry';
import { expectError } from './support/expect-error';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack.close();
});

interface Person {
  id: string;
  email: string;
}

/** Fresh recipients for each test: the rules count per person, so tests never share one. */
async function people(n: number): Promise<Person[]> {
  const made: Person[] = [];
  for (let i = 0; i < n; i++) {
    const person = { id: uniq('dt'), email: `${uniq('dt')}@example.com` };
    const put = await stack.api('PUT', `/v1/recipients/${person.id}`, { name: `P${i}`, email: person.email });
    expect(put.status).toBe(201);
    made.push(person);
  }
  return made;
}

/** Sends and waits until the notification has finished; returns its id. */
async function send(body: Record<string, unknown>): Promise<string> {
  const created = await stack.api('POST', '/v1/notifications', body);
  expect(created.status).toBe(202);
  await waitForNotification(stack, created.body.id);
  return created.body.id;
}

/** A notification's deliveries as `recipientKey channel → status[: error]`. */
async function outcomes(id: string): Promise<Record<string, string>> {
  const view = await stack.api('GET', `/v1/notifications/${id}`);
  expect(view.status).toBe(200);
  const result: Record<string, string> = {};
  for (const recipient of view.body.recipients) {
    for (const d of recipient.deliveries) {
      result[`${recipient.recipientKey} ${d.channel}`] = d.error ? `${d.status}: ${d.error}` : d.status;
    }
  }
  return result;
}

/** The emails the SMTP sink received for one notification, by envelope address. */
const mailsOf = (id: string) =>
  stack.sink
    .messages()
    .filter((m) => m.messageId.startsWith(`<${id}.`))
    .flatMap((m) => m.envelopeTo);

const ticket = (ticketId: string) => ({ ticketId, title: `Ticket ${ticketId}` });

describe('dedupe', () => {
  it('two notifications with one key sent at once reach each person once; a third in the window is a duplicate', async () => {
    const team = await people(3);
    const ticketId = uniq('T');
    const body = {
      event: 'ticket.assigned',
      to: { recipients: team.map((p) => p.id) },
      channels: ['email', 'inapp'],
      data: ticket(ticketId),
      dedupe: { key: 'ticket-{{ ticketId }}', window: '10m' },
    };
    const [a, b] = await Promise.all([
      stack.api('POST', '/v1/notifications', body),
      stack.api('POST', '/v1/notifications', body),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const ids = [a.body.id as string, b.body.id as string];
    await Promise.all(ids.map((id) => waitForNotification(stack, id)));
    const [first, second] = await Promise.all(ids.map(outcomes));

    const winnerOf = new Map<string, string>();
    for (const person of team) {
      // Exactly one email per person at the SMTP server, from either notification.
      const mails = ids.flatMap(mailsOf).filter((to) => to === person.email.toLowerCase());
      expect(mails).toHaveLength(1);
      const [winner, loser, loserOutcomes] =
        first![`${person.id} email`] === 'sent' ? [ids[0]!, ids[1]!, second!] : [ids[1]!, ids[0]!, first!];
      expect(mailsOf(winner)).toContain(person.email.toLowerCase());
      // Every channel of the person, not only email.
      expect(loserOutcomes[`${person.id} email`]).toBe(`suppressed: duplicate of ${winner}`);
      expect(loserOutcomes[`${person.id} inapp`]).toBe(`suppressed: duplicate of ${winner}`);
      expect(loser).not.toBe(winner);
      winnerOf.set(person.id, winner);
    }

    const third = await send(body);
    const thirdOutcomes = await outcomes(third);
    expect(mailsOf(third)).toEqual([]);
    for (const person of team) {
      expect(thirdOutcomes[`${person.id} email`]).toBe(`suppressed: duplicate of ${winnerOf.get(person.id)}`);
    }

    // Another key (another ticket) is no duplicate.
    const other = await send({ ...body, data: ticket(uniq('T')) });
    expect(Object.values(await outcomes(other))).toEqual(Array(6).fill('sent'));
    expect(mailsOf(other).sort()).toEqual(team.map((p) => p.email.toLowerCase()).sort());
  });

  it('after the window the next one is delivered again and becomes the new reference', async () => {
    const [person] = await people(1);
    const body = {
      event: 'ticket.assigned',
      to: { recipients: [person!.id] },
      channels: ['email'],
      data: ticket(uniq('T')),
      dedupe: { key: '{{ ticketId }}', window: '2s' },
    };
    const first = await send(body);
    expect(await outcomes(first)).toEqual({ [`${person!.id} email`]: 'sent' });
    const claim = await stack.db.query<{ expires_at: Date }>(
      `SELECT expires_at FROM dedupe_claims WHERE tenant_id = $1 AND recipient_key = $2`,
      [stack.tenantId, person!.id],
    );
    // Wait out the window by the database's own clock, which decides expiry.
    await stack.db.query(`SELECT pg_sleep(greatest(0, extract(epoch FROM $1::timestamptz - now()) + 0.2))`, [
      claim.rows[0]!.expires_at,
    ]);

    const again = await send(body);
    expect(await outcomes(again)).toEqual({ [`${person!.id} email`]: 'sent' });
    expect(mailsOf(again)).toEqual([person!.email.toLowerCase()]);
    const renewed = await stack.db.query<{ notification_id: string }>(
      `SELECT notification_id FROM dedupe_claims WHERE tenant_id = $1 AND recipient_key = $2`,
      [stack.tenantId, person!.id],
    );
    expect(renewed.rows).toEqual([{ notification_id: again }]);
  });

  it("applies the event manifest's rule without a request rule, and a request rule replaces it", async () => {
    // templates/out_of_stock/manifest.yaml: key sku @ location, window 1h.
    const [person] = await people(1);
    const data = { itemName: 'Espresso beans', sku: uniq('SKU'), location: 'Harare' };
    const body = { event: 'out_of_stock', to: { recipients: [person!.id] }, channels: ['email'], data };
    const first = await send(body);
    expect(await outcomes(first)).toEqual({ [`${person!.id} email`]: 'sent' });
    const second = await send(body);
    expect(await outcomes(second)).toEqual({ [`${person!.id} email`]: `suppressed: duplicate of ${first}` });
    // Another place is another stock-out.
    const elsewhere = await send({ ...body, data: { ...data, location: 'Bulawayo' } });
    expect(await outcomes(elsewhere)).toEqual({ [`${person!.id} email`]: 'sent' });
    // The request's own rule (another key) replaces the manifest's: no duplicate of the first.
    const own = await send({ ...body, dedupe: { key: 'restock-{{ sku }}', window: '1h' } });
    expect(await outcomes(own)).toEqual({ [`${person!.id} email`]: 'sent' });
    expect(mailsOf(second)).toEqual([]);
  });
});

describe('throttle', () => {
  const throttle = { max: 5, per: '1h' };

  it('lets 5 of 6 in a row through to a person; the 6th is suppressed', async () => {
    const [person] = await people(1);
    const results: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = await send({
        event: 'ticket.assigned',
        to: { recipients: [person!.id] },
        channels: ['email'],
        data: ticket(uniq('T')),
        throttle,
      });
      results.push((await outcomes(id))[`${person!.id} email`]!);
    }
    expect(results).toEqual([
      ...Array(5).fill('sent'),
      'suppressed: throttled: 5 per 1h for ticket.assigned',
    ]);
  });

  it('lets exactly 5 of 6 sent at once through to each person', async () => {
    const pair = await people(2);
    const created = await Promise.all(
      Array.from({ length: 6 }, () =>
        stack.api('POST', '/v1/notifications', {
          event: 'ticket.assigned',
          to: { recipients: pair.map((p) => p.id) },
          channels: ['email'],
          data: ticket(uniq('T')),
          throttle,
        }),
      ),
    );
    const ids = created.map((c) => {
      expect(c.status).toBe(202);
      return c.body.id as string;
    });
    await Promise.all(ids.map((id) => waitForNotification(stack, id)));
    const all = await Promise.all(ids.map(outcomes));
    for (const person of pair) {
      const statuses = all.map((o) => o[`${person.id} email`]).sort();
      expect(statuses).toEqual([
        ...Array(5).fill('sent'),
        'suppressed: throttled: 5 per 1h for ticket.assigned',
      ]);
      const mails = ids.flatMap(mailsOf).filter((to) => to === person.email.toLowerCase());
      expect(mails).toHaveLength(5);
    }
  });
});

describe('a retried prepareDeliveries', () => {
  it('neither counts its notification twice nor suppresses it as a duplicate of itself', async () => {
    const [person, other] = await people(2);
    const activities = createNotificationActivities({
      db: stack.db,
      templates: await TemplateRegistry.load(),
      channels: {} as ChannelRegistry, // preparing sends nothing
      brandName: 'Herald Test',
    });
    /** A notification as the API records it, prepared the way its workflow does. */
    const prepare = async (id: string, to: string[]) => {
      const request: NotificationRequest = {
        event: 'ticket.assigned',
        to: { recipients: to },
        channels: ['email'],
        data: ticket('retry-1'),
        priority: 'normal',
        dedupe: { key: '{{ ticketId }}', window: '10m' },
        throttle: { max: 1, per: '1h' },
      };
      await insertNotificationOnce(stack.db, {
        id,
        tenantId: stack.tenantId,
        event: request.event,
        priority: request.priority,
        idempotencyKey: null,
        requestHash: 'test',
        request,
        workflowId: `notification-${id}`,
      });
      return activities.prepareDeliveries({
        notificationId: id,
        tenantId: stack.tenantId,
        request,
        batchSize: 100,
      });
    };
    const id = randomUUID();
    const firstTry = await prepare(id, [person!.id]);
    expect(firstTry.counts).toEqual({ pending: 1 });
    // The same activity again (a retry after a lost result): its own claim and count still hold.
    const retry = await activities.prepareDeliveries({
      notificationId: id,
      tenantId: stack.tenantId,
      request: (await stack.db.query('SELECT request FROM notifications WHERE id = $1', [id])).rows[0]
        .request,
      batchSize: 100,
    });
    expect(retry.counts).toEqual({ pending: 1 });
    const window = await stack.db.query(
      `SELECT count FROM throttle_windows WHERE tenant_id = $1 AND recipient_key = $2`,
      [stack.tenantId, person!.id],
    );
    expect(window.rows).toEqual([{ count: 1 }]);

    // Another notification of the same key: a duplicate for the person, counted for the newcomer.
    const next = randomUUID();
    expect((await prepare(next, [person!.id, other!.id])).counts).toEqual({ pending: 1, suppressed: 1 });
    const rows = await stack.db.query(
      `SELECT recipient_key, status, error FROM deliveries WHERE notification_id = $1 ORDER BY recipient_key`,
      [next],
    );
    expect(rows.rows).toEqual(
      [
        { recipient_key: person!.id, status: 'suppressed', error: `duplicate of ${id}` },
        { recipient_key: other!.id, status: 'pending', error: null },
      ].sort((x, y) => (x.recipient_key < y.recipient_key ? -1 : 1)),
    );
  });
});

describe('rules in the request', () => {
  const base = { event: 'ticket.assigned', to: { emails: ['ops@example.com'] }, data: ticket('1') };

  it.each([
    ['dedupe.window', { dedupe: { key: '{{ ticketId }}', window: '10 minutes' } }],
    ['dedupe.window', { dedupe: { key: '{{ ticketId }}', window: '31d' } }],
    ['dedupe.key', { dedupe: { key: '', window: '10m' } }],
    ['throttle.max', { throttle: { max: 0, per: '1h' } }],
    ['throttle.per', { throttle: { max: 5, per: 'hourly' } }],
  ])('a bad rule is 400 naming %s', async (path, rule) => {
    const response = await stack.api('POST', '/v1/notifications', { ...base, ...rule });
    expectError(response, 400, 'validation_failed');
    expect(response.body.error.details.map((d: { path: string }) => d.path)).toEqual([path]);
  });

  it.each([
    ['an undeclared variable', '{{ ticket_id }}', /undefined variable: ticket_id/],
    ['a Liquid syntax error', '{{ ticketId', /not closed/],
    ['an unknown filter', '{{ ticketId | shout }}', /undefined filter: shout/],
  ])('a key with %s is 422 naming dedupe.key, and nothing is recorded', async (_what, key, message) => {
    const idempotencyKey = uniq('bad-key');
    const response = await stack.api('POST', '/v1/notifications', {
      ...base,
      dedupe: { key, window: '10m' },
      idempotencyKey,
    });
    expectError(response, 422, 'validation_failed');
    expect(response.body.error.details).toEqual([
      { path: 'dedupe.key', message: expect.stringMatching(message) },
    ]);
    const recorded = await stack.db.query('SELECT 1 FROM notifications WHERE idempotency_key = $1', [
      idempotencyKey,
    ]);
    expect(recorded.rowCount).toBe(0);
  });
});
