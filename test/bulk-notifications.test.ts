import { createKey } from './support/auth';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * Issue 10 §5: POST /v1/notifications/bulk takes up to 1,000 notifications, each with its own
 * idempotency key, and answers per item. Real API, worker, PostgreSQL and Temporal.
 */

const ITEMS = 1_000;
const RECIPIENTS = 10;
/** Two email sends a day for this stack's tenant: the third email item is over the quota. */
const EMAIL_QUOTA = 2;

interface Result {
  index: number;
  status: 'created' | 'existing' | 'error';
  id?: string;
  error?: {
    status: number;
    code: string;
    message: string;
    details: { path: string; message: string }[];
    retryAfter?: number;
  };
}

describe('POST /v1/notifications/bulk', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ apiEnv: { DAILY_QUOTA_EMAIL: String(EMAIL_QUOTA) } });
  });
  afterAll(async () => {
    await stack.close();
  });

  const bulk = (notifications: unknown[], headers?: Record<string, string>) =>
    stack.api('POST', '/v1/notifications/bulk', { notifications }, headers);

  /** Every execution of this stack's tenant, as visibility lists it: workflow id → run id. */
  async function tenantWorkflows(): Promise<Map<string, string>> {
    const runs = new Map<string, string>();
    for await (const wf of stack.client.workflow.list({ query: `HeraldTenant = '${stack.tenantId}'` }))
      runs.set(wf.workflowId, wf.runId);
    return runs;
  }

  async function tenantNotificationCount(): Promise<number> {
    const rows = await stack.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM notifications WHERE tenant_id = $1',
      [stack.tenantId],
    );
    return rows.rows[0]!.n;
  }

  describe('1,000 in-app notifications in one call', () => {
    const prefix = uniq('bulk');
    let items: Record<string, unknown>[];
    let first: Result[];
    let runsAfterFirst: Map<string, string>;

    beforeAll(async () => {
      for (let r = 0; r < RECIPIENTS; r++) {
        const put = await stack.api('PUT', `/v1/recipients/${prefix}-r${r}`, { name: `Bulk ${r}` });
        expect(put.status).toBe(201);
      }
      // A typical item (~450 bytes): 1,000 of them are over the 256 KB default body limit.
      items = Array.from({ length: ITEMS }, (_, i) => ({
        event: 'test_email',
        to: { recipients: [`${prefix}-r${i % RECIPIENTS}`] },
        channels: ['inapp'],
        data: { message: `Order ${i} has shipped. `.padEnd(300, 'Tracking details follow. ') },
        idempotencyKey: `${prefix}-item-${i}`,
      }));
    });

    it('creates 1,000 notifications whose workflows all complete', async () => {
      const size = Buffer.byteLength(JSON.stringify({ notifications: items }));
      expect(size).toBeGreaterThan(stack.config.BODY_LIMIT_BYTES);
      expect(size).toBeLessThan(stack.config.BULK_BODY_LIMIT_BYTES);

      const started = performance.now();
      const response = await bulk(items);
      const acceptedSeconds = (performance.now() - started) / 1000;
      expect(response.status).toBe(200);
      first = response.body.results;
      expect(first).toHaveLength(ITEMS);
      first.forEach((r, i) => expect(r).toEqual({ index: i, status: 'created', id: expect.any(String) }));
      const ids = first.map((r) => r.id!);
      expect(new Set(ids).size).toBe(ITEMS);

      // The rows are the answer's, one per key, each carrying its own item's request.
      const rows = await stack.db.query<{ id: string; idempotency_key: string; message: string }>(
        `SELECT id, idempotency_key, request->'data'->>'message' AS message FROM notifications
          WHERE tenant_id = $1 AND idempotency_key LIKE $2`,
        [stack.tenantId, `${prefix}-item-%`],
      );
      expect(rows.rows).toHaveLength(ITEMS);
      const byKey = new Map(rows.rows.map((r) => [r.idempotency_key, r]));
      items.forEach((item, i) => {
        const row = byKey.get(item.idempotencyKey as string)!;
        expect(row.id).toBe(ids[i]);
        expect(row.message).toBe((item.data as { message: string }).message);
      });

      // Every workflow runs to the end: each notification completed with its one in-app delivery sent.
      for (;;) {
        const done = await stack.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM notifications WHERE id = ANY($1::uuid[]) AND status = 'completed'`,
          [ids],
        );
        if (done.rows[0]!.n === ITEMS) break;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      const completedSeconds = (performance.now() - started) / 1000;
      const sent = await stack.db.query<{ n: number; notifications: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT notification_id)::int AS notifications FROM deliveries
          WHERE notification_id = ANY($1::uuid[]) AND channel = 'inapp' AND status = 'sent'`,
        [ids],
      );
      expect(sent.rows[0]).toEqual({ n: ITEMS, notifications: ITEMS });
      const inbox = await stack.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM inbox_messages WHERE tenant_id = $1 AND notification_id = ANY($2::uuid[])',
        [stack.tenantId, ids],
      );
      expect(inbox.rows[0]!.n).toBe(ITEMS);

      // Temporal has exactly one completed run per notification.
      runsAfterFirst = await tenantWorkflows();
      expect([...runsAfterFirst.keys()].sort()).toEqual(ids.map((id) => `notification-${id}`).sort());
      const closed = await stack.client.workflow.count(
        `HeraldTenant = '${stack.tenantId}' AND ExecutionStatus = 'Completed'`,
      );
      expect(closed.count).toBe(ITEMS);
      console.log(
        `bulk: ${ITEMS} notifications (${(size / 1024).toFixed(0)} KB body) accepted in ${acceptedSeconds.toFixed(1)} s ` +
          `(${(ITEMS / acceptedSeconds).toFixed(0)}/s), all completed after ${completedSeconds.toFixed(1)} s`,
      );
    }, 900_000);

    it('the same call again starts none: every item answers existing with the same id', async () => {
      const rowsBefore = await tenantNotificationCount();
      const started = performance.now();
      const again = await bulk(items);
      const seconds = (performance.now() - started) / 1000;
      expect(again.status).toBe(200);
      expect(again.body.results).toEqual(
        first.map((r) => ({ index: r.index, status: 'existing', id: r.id })),
      );
      expect(await tenantNotificationCount()).toBe(rowsBefore);
      // No new run: the same executions with the same run ids, none running.
      expect(await tenantWorkflows()).toEqual(runsAfterFirst);
      const running = await stack.client.workflow.count(
        `HeraldTenant = '${stack.tenantId}' AND ExecutionStatus = 'Running'`,
      );
      expect(running.count).toBe(0);
      const inbox = await stack.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM inbox_messages WHERE tenant_id = $1 AND notification_id = ANY($2::uuid[])',
        [stack.tenantId, first.map((r) => r.id)],
      );
      expect(inbox.rows[0]!.n).toBe(ITEMS);
      console.log(`bulk replay: ${ITEMS} items answered existing in ${seconds.toFixed(1)} s`);
    }, 300_000);
  });

  it('reports bad items by index, writes nothing for them, and creates the others', async () => {
    const prefix = uniq('mixed');
    const mail = (n: number) => `${prefix}-${n}@example.com`;
    const good = (n: number) => ({
      event: 'test_email',
      to: { emails: [mail(n)] },
      data: { message: `mixed ${n}` },
      idempotencyKey: `${prefix}-${n}`,
    });
    const items = [
      good(0),
      { ...good(1), priority: 'urgent' }, // schema: not a priority
      { event: 'test_email', to: { emails: [mail(2)] } }, // schema: no idempotency key
      { ...good(3), event: 'no.such.event' }, // unknown event
      { ...good(4), to: { groups: [`${prefix}-no-such-group`] } }, // unknown group
      good(5),
      good(6), // a third email: over the daily email quota of 2
      { ...good(7), idempotencyKey: `${prefix}-0` }, // item 0's key with another body
      { ...good(5) }, // item 5 again: the same notification
      'not an object',
    ];
    const before = await tenantNotificationCount();
    const response = await bulk(items);
    expect(response.status).toBe(200);
    const results: Result[] = response.body.results;
    expect(results.map((r) => [r.index, r.status])).toEqual([
      [0, 'created'],
      [1, 'error'],
      [2, 'error'],
      [3, 'error'],
      [4, 'error'],
      [5, 'created'],
      [6, 'error'],
      [7, 'error'],
      [8, 'existing'],
      [9, 'error'],
    ]);
    const error = (i: number) => results[i]!.error!;
    expect(error(1)).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(error(1).details.map((d) => d.path)).toEqual(['notifications[1].priority']);
    expect(error(2)).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(error(2).details.map((d) => d.path)).toEqual(['notifications[2].idempotencyKey']);
    expect(error(3)).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(error(3).details).toEqual([
      { path: 'notifications[3].event', message: expect.stringContaining('unknown event') },
    ]);
    expect(error(4)).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(error(4).details).toEqual([
      { path: 'notifications[4].to.groups[0]', message: `unknown group '${prefix}-no-such-group'` },
    ]);
    expect(error(6)).toMatchObject({ status: 429, code: 'quota_exceeded', retryAfter: expect.any(Number) });
    expect(error(6).details.map((d) => d.path)).toEqual(['notifications[6].quota.email']);
    expect(error(6).retryAfter).toBeGreaterThan(0);
    expect(error(7)).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect(error(7).details.map((d) => d.path)).toEqual(['notifications[7].idempotencyKey']);
    expect(results[8]!.id).toBe(results[5]!.id);
    expect(error(9)).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(error(9).details.map((d) => d.path)).toEqual(['notifications[9]']);

    // Two rows, the two created ones: nothing of any refused item.
    expect(await tenantNotificationCount()).toBe(before + 2);
    const rows = await stack.db.query<{ id: string; idempotency_key: string }>(
      'SELECT id, idempotency_key FROM notifications WHERE tenant_id = $1 AND idempotency_key LIKE $2',
      [stack.tenantId, `${prefix}-%`],
    );
    expect(rows.rows.map((r) => [r.idempotency_key, r.id]).sort()).toEqual(
      [
        [`${prefix}-0`, results[0]!.id],
        [`${prefix}-5`, results[5]!.id],
      ].sort(),
    );
    // Only the quota the two created ones reserved is used: the refused third gave nothing back to take.
    const usage = await stack.db.query<{ sends: number }>(
      `SELECT COALESCE(sum(count), 0)::int AS sends FROM tenant_send_usage WHERE tenant_id = $1 AND channel = 'email'`,
      [stack.tenantId],
    );
    expect(usage.rows[0]!.sends).toBe(EMAIL_QUOTA);

    // The good ones are delivered; the refused ones sent nothing.
    for (const i of [0, 5]) {
      const view = await waitForNotification(stack, results[i]!.id!);
      expect(view.status).toBe('completed');
      expect(view.counts).toEqual({ sent: 1 });
    }
    const received = stack.sink.messages().flatMap((m) => m.envelopeTo);
    expect(received.filter((to) => to.startsWith(prefix)).sort()).toEqual([mail(0), mail(5)]);
  }, 120_000);

  it('refuses a malformed envelope, a batch key header, a body over its limit, and keys without the scope', async () => {
    const item = {
      event: 'test_email',
      to: { emails: ['x@example.com'] },
      idempotencyKey: uniq('k'),
    };
    const before = await tenantNotificationCount();
    const cases: [unknown, string][] = [
      [{ notifications: [] }, 'notifications'],
      [{ notifications: Array.from({ length: ITEMS + 1 }, () => item) }, 'notifications'],
      [{}, 'notifications'],
      [{ notifications: [item], extra: true }, 'body'],
      [[item], 'body'],
    ];
    for (const [body, path] of cases) {
      const response = await stack.api('POST', '/v1/notifications/bulk', body);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
    const withHeader = await bulk([item], { 'Idempotency-Key': 'whole-call' });
    expect(withHeader.status).toBe(400);
    expect(withHeader.body.error.details[0].path).toBe('Idempotency-Key');

    // Over the bulk limit: a clear 413 in the error shape.
    const huge = 'x'.repeat(stack.config.BULK_BODY_LIMIT_BYTES);
    const tooBig = await bulk([{ ...item, data: { message: huge } }]);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error).toMatchObject({
      code: 'payload_too_large',
      details: [
        { path: 'body', message: expect.stringContaining(String(stack.config.BULK_BODY_LIMIT_BYTES)) },
      ],
    });
    // The larger limit is the bulk route's only: the single route keeps the default.
    const single = await stack.api('POST', '/v1/notifications', {
      ...item,
      data: { message: 'x'.repeat(stack.config.BODY_LIMIT_BYTES) },
    });
    expect(single.status).toBe(413);

    const reader = await createKey(stack.db, stack.tenantId, ['read']);
    const denied = await bulk([item], { authorization: `Bearer ${reader.key}` });
    expect(denied.status).toBe(403);
    expect(denied.body.error.details[0]).toMatchObject({ path: 'scope' });
    // critical needs its own scope, item by item.
    const sender = await createKey(stack.db, stack.tenantId, ['send']);
    const critical = await bulk([{ ...item, priority: 'critical' }], {
      authorization: `Bearer ${sender.key}`,
    });
    expect(critical.status).toBe(200);
    expect(critical.body.results[0].error).toMatchObject({
      status: 403,
      code: 'forbidden',
      details: [{ path: 'notifications[0].priority' }],
    });
    expect(await tenantNotificationCount()).toBe(before);
  });

  it('is in the OpenAPI document with its scope, item schema and per-item answer', async () => {
    const { body } = await stack.api('GET', '/openapi.json');
    const operation = body.paths['/v1/notifications/bulk'].post;
    expect(operation['x-herald-scope']).toBe('send');
    const envelope = operation.requestBody.content['application/json'].schema;
    expect(envelope.$ref).toBe('#/components/schemas/BulkNotificationRequest');
    const notifications = body.components.schemas.BulkNotificationRequest.properties.notifications;
    expect(notifications).toMatchObject({
      items: { $ref: '#/components/schemas/NotificationBulkItem' },
      minItems: 1,
      maxItems: ITEMS,
    });
    const itemSchema = body.components.schemas.NotificationBulkItem;
    expect(itemSchema.required).toEqual(expect.arrayContaining(['event', 'idempotencyKey']));
    expect(itemSchema.additionalProperties).toBe(false);
    expect(Object.keys(operation.responses)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '413']),
    );
  });
});
