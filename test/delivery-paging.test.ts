import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * Issue 10 §4: GET /v1/notifications/{id} no longer lists up to 1,000 deliveries inline; its counts
 * are read from the delivery log on each request (they move while it runs), and
 * GET /v1/notifications/{id}/deliveries pages through every delivery. Real stack, 5,000 recipients.
 */

const RECIPIENTS = 5_000;
const CHANNELS = ['email', 'inapp'];
const DELIVERIES = RECIPIENTS * CHANNELS.length;
const PAGE = 700; // not a divisor of 10,000: the last page is a short one
const INLINE = 100;

/** A group of `size` people with email addresses, written straight to the database (as test/scale.test.ts). */
async function bigGroup(stack: Stack, size: number): Promise<string> {
  const prefix = uniq('paging');
  await stack.db.query(
    `INSERT INTO recipients (tenant_id, external_id, name, email)
     SELECT $3, $1 || '-' || i, 'Paging ' || i, $1 || '-' || i || '@example.com' FROM generate_series(1, $2) i`,
    [prefix, size, stack.tenantId],
  );
  await stack.db.query('INSERT INTO groups (tenant_id, key, name) VALUES ($1, $2, $3)', [
    stack.tenantId,
    prefix,
    `Paging ${prefix}`,
  ]);
  await stack.db.query(
    `INSERT INTO group_members (tenant_id, group_key, external_id)
     SELECT $3, $1, $1 || '-' || i FROM generate_series(1, $2) i`,
    [prefix, size, stack.tenantId],
  );
  return prefix;
}

describe('delivery paging and live counts', () => {
  let stack: Stack;
  beforeAll(async () => {
    // 10,000 deliveries in batches of 250, two at a time: the run lasts for many GETs (the first
    // try saw 287 different partial counts in 290 GETs), with no slowed server needed.
    stack = await startStack({
      sink: { envelopesOnly: true, maxMessages: DELIVERIES },
      apiEnv: { BATCH_SIZE: '250', MAX_CONCURRENT_BATCHES: '2' },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  let id: string;
  const sentSeenWhileRunning: number[] = [];

  it(`counts move while a ${RECIPIENTS}-recipient notification runs`, async () => {
    const group = await bigGroup(stack, RECIPIENTS);
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { groups: [group] },
      channels: CHANNELS,
      data: { ticketId: 'P-1', title: 'Paging test' },
    });
    expect(created.status).toBe(202);
    id = created.body.id;
    expect(created.body.links.deliveries).toBe(`/v1/notifications/${id}/deliveries`);

    // Poll until it ends, keeping what each GET said while it still ran.
    let view;
    let views = 0;
    for (;;) {
      const response = await stack.api('GET', `/v1/notifications/${id}`);
      expect(response.status).toBe(200);
      view = response.body;
      views++;
      if (['completed', 'failed', 'cancelled'].includes(view.status)) break;
      const sent = view.counts.sent ?? 0;
      const total = Object.values(view.counts as Record<string, number>).reduce((a, n) => a + n, 0);
      // The sums agree whatever the moment: every delivery is counted in exactly one status.
      expect(view.deliveryPage.total).toBe(total);
      sentSeenWhileRunning.push(sent);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(view.status).toBe('completed');
    expect(view.counts).toEqual({ sent: DELIVERIES });
    // Two GETs during the run saw different numbers sent, strictly between none and all.
    const distinct = [...new Set(sentSeenWhileRunning.filter((n) => n > 0 && n < DELIVERIES))];
    console.log(
      `live counts: ${views} GETs, ${sentSeenWhileRunning.length} while running, ` +
        `${distinct.length} distinct partial 'sent' counts (${distinct.slice(0, 8).join(', ')}…)`,
    );
    expect(distinct.length).toBeGreaterThanOrEqual(2);
    // Never backwards.
    for (let i = 1; i < sentSeenWhileRunning.length; i++)
      expect(sentSeenWhileRunning[i]!).toBeGreaterThanOrEqual(sentSeenWhileRunning[i - 1]!);

    // Inline: the first page only, with the cursor that continues after it.
    expect(view.deliveryPage).toEqual({ total: DELIVERIES, shown: INLINE, nextCursor: expect.any(String) });
    expect(view.recipients.flatMap((r: { deliveries: unknown[] }) => r.deliveries)).toHaveLength(INLINE);
    expect(view.links.deliveries).toBe(`/v1/notifications/${id}/deliveries`);
    const rest = await stack.api(
      'GET',
      `/v1/notifications/${id}/deliveries?limit=1&cursor=${view.deliveryPage.nextCursor}`,
    );
    const firstHundred = await stack.api('GET', `/v1/notifications/${id}/deliveries`);
    expect(firstHundred.body.items).toHaveLength(INLINE);
    expect(BigInt(rest.body.items[0].id)).toBeGreaterThan(BigInt(firstHundred.body.items[INLINE - 1].id));
  }, 600_000);

  it('reads every delivery exactly once, page by page', async () => {
    const seen: string[] = [];
    const byChannel: Record<string, number> = {};
    let cursor: string | null = null;
    let pages = 0;
    do {
      const path = `/v1/notifications/${id}/deliveries?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await stack.api('GET', path);
      expect(page.status).toBe(200);
      pages++;
      expect(page.body.items.length).toBeLessThanOrEqual(PAGE);
      for (const d of page.body.items) {
        expect(d).toMatchObject({ notificationId: id, status: 'sent' });
        seen.push(d.id);
        byChannel[d.channel] = (byChannel[d.channel] ?? 0) + 1;
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages).toBe(Math.ceil(DELIVERIES / PAGE));
    expect(seen).toHaveLength(DELIVERIES);
    expect(new Set(seen).size).toBe(DELIVERIES);
    expect(byChannel).toEqual({ email: RECIPIENTS, inapp: RECIPIENTS });
    // In id order, and exactly the log's rows.
    const ids = seen.map(BigInt);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    const rows = await stack.db.query<{ id: string }>(
      'SELECT id FROM deliveries WHERE notification_id = $1 ORDER BY id',
      [id],
    );
    expect(seen).toEqual(rows.rows.map((r) => String(r.id)));
    const sample = await stack.api('GET', `/v1/notifications/${id}/deliveries?limit=1`);
    expect(sample.body.items[0]).toEqual(
      expect.objectContaining({
        recipientKey: expect.any(String),
        externalId: expect.any(String),
        channel: expect.any(String),
        address: expect.any(String),
        attempts: 1,
      }),
    );
  });

  it('filters by channel and status, and pages a filtered list to the end', async () => {
    let cursor: string | null = null;
    let inapp = 0;
    do {
      const page = await stack.api(
        'GET',
        `/v1/notifications/${id}/deliveries?channel=inapp&status=sent&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      for (const d of page.body.items) expect(d).toMatchObject({ channel: 'inapp', status: 'sent' });
      inapp += page.body.items.length;
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(inapp).toBe(RECIPIENTS);
    const none = await stack.api('GET', `/v1/notifications/${id}/deliveries?status=failed`);
    expect(none.body).toEqual({ items: [], nextCursor: null });
  });

  it('answers JSON 4xx for a bad limit, cursor, filter or id', async () => {
    const base = `/v1/notifications/${id}/deliveries`;
    const badCursor = Buffer.from(JSON.stringify({ id: '5' })).toString('base64url');
    const cases: [string, number, string][] = [
      [`${base}?limit=0`, 400, 'limit'],
      [`${base}?limit=1001`, 400, 'limit'],
      [`${base}?limit=ten`, 400, 'limit'],
      [`${base}?cursor=not-a-cursor`, 400, 'cursor'],
      // A /v1/deliveries cursor (newest first) is not one of these (oldest first).
      [`${base}?cursor=${badCursor}`, 400, 'cursor'],
      [
        `${base}?cursor=${Buffer.from(JSON.stringify({ after: '99999999999999999999' })).toString('base64url')}`,
        400,
        'cursor',
      ],
      [`${base}?status=arrived`, 400, 'status'],
      [`${base}?channel=fax`, 400, 'channel'],
      ['/v1/notifications/not-a-uuid/deliveries', 400, 'id'],
    ];
    for (const [path, status, field] of cases) {
      const response = await stack.api('GET', path);
      expect([path, response.status]).toEqual([path, status]);
      expect(response.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
    }
    const unknown = await stack.api(
      'GET',
      '/v1/notifications/0b8a5d2e-6f1c-4a3b-9c7d-2e4f6a8b0c1d/deliveries',
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });

  it('is in the OpenAPI document with its scope and query', async () => {
    const { body } = await stack.api('GET', '/openapi.json');
    const operation = body.paths['/v1/notifications/{id}/deliveries'].get;
    expect(operation['x-herald-scope']).toBe('read');
    const limit = operation.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
    expect(operation.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['id', 'limit', 'cursor', 'status', 'channel']),
    );
    expect(body.components.schemas.Notification.properties.deliveryPage).toBeDefined();
  });

  it('a small notification lists all its deliveries inline, with no next cursor', async () => {
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { emails: [`${uniq('a')}@example.com`, `${uniq('b')}@example.com`] },
      data: { message: 'small' },
    });
    expect(created.status).toBe(202);
    const view = await waitForNotification(stack, created.body.id);
    expect(view.deliveryPage).toEqual({ total: 2, shown: 2, nextCursor: null });
    expect(view.recipients).toHaveLength(2);
    const page = await stack.api('GET', `/v1/notifications/${created.body.id}/deliveries`);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.nextCursor).toBeNull();
  });
});
