import { randomUUID } from 'node:crypto';
import type { retentionWorkflow } from '../workflows/retention';
import { startStack, uniq, type Stack } from './support/stack';

// Other test files share this database, so every timestamp here lies in 2000 and the run's `now` is
// 2001-01-01: the cutoffs (30 and 60 days before it) are far older than any other file's rows.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

// Retention is given its own "now": a date in the past keeps every row made by other tests (newer) untouched.
const NOW = '2001-01-01T00:00:00.000Z';
const OLD = '2000-06-01T00:00:00.000Z';
const RECENT = '2000-12-20T00:00:00.000Z';

async function insertInbox(externalId: string, createdAt: string, readAt: string | null): Promise<string> {
  const id = randomUUID();
  await stack.db.query(
    `INSERT INTO inbox_messages (id, tenant_id, external_id, event, title, body, created_at, read_at)
     VALUES ($1, $5, $2, 'retention.test', 't', 'b', $3, $4)`,
    [id, externalId, createdAt, readAt, stack.tenantId],
  );
  return id;
}

async function insertDelivery(
  notificationId: string,
  externalId: string,
  createdAt: string,
): Promise<string> {
  const { rows } = await stack.db.query<{ id: string }>(
    `INSERT INTO deliveries (notification_id, tenant_id, event, recipient_key, external_id, channel, address,
                             status, created_at, updated_at)
     VALUES ($1, $5, 'retention.test', $2, $3, 'email', 'x@example.com', 'sent', $4, $4)
     RETURNING id`,
    // One delivery per notification, recipient key and channel: a fresh key per row.
    [notificationId, `${externalId}-${randomUUID().slice(0, 8)}`, externalId, createdAt, stack.tenantId],
  );
  return rows[0]!.id;
}

test('retention deletes only read inbox messages and deliveries older than the limits, in batches', async () => {
  const externalId = uniq('retention');
  await stack.db.query(`INSERT INTO recipients (tenant_id, external_id, name) VALUES ($2, $1, 'R')`, [
    externalId,
    stack.tenantId,
  ]);
  const notificationId = randomUUID();
  await stack.db.query(
    `INSERT INTO notifications (id, tenant_id, event, priority, request_hash, request, workflow_id, created_at)
     VALUES ($1, $4, 'retention.test', 'normal', 'h', '{}', $2, $3)`,
    [notificationId, `notification-${notificationId}`, OLD, stack.tenantId],
  );

  const inbox = {
    readOld1: await insertInbox(externalId, OLD, OLD),
    readOld2: await insertInbox(externalId, OLD, '2000-11-01T00:00:00.000Z'),
    readRecent: await insertInbox(externalId, OLD, RECENT),
    unreadOld: await insertInbox(externalId, OLD, null),
  };
  const deliveries = {
    old1: await insertDelivery(notificationId, externalId, OLD),
    old2: await insertDelivery(notificationId, externalId, '2000-10-01T00:00:00.000Z'),
    old3: await insertDelivery(notificationId, externalId, '2000-10-15T00:00:00.000Z'),
    recent: await insertDelivery(notificationId, externalId, RECENT),
  };

  const result = await stack.client.workflow.execute<typeof retentionWorkflow>('retentionWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: uniq('retention-test'),
    args: [{ inboxReadOlderThanDays: 30, deliveriesOlderThanDays: 60, batchSize: 2, now: NOW }],
  });
  expect(result.now).toBe(NOW);
  expect(result.inboxCutoff).toBe('2000-12-02T00:00:00.000Z');
  expect(result.deliveriesCutoff).toBe('2000-11-02T00:00:00.000Z');
  expect(result.inboxDeleted).toBeGreaterThanOrEqual(2);
  expect(result.deliveriesDeleted).toBeGreaterThanOrEqual(3);

  const { rows: inboxLeft } = await stack.db.query<{ id: string }>(
    'SELECT id FROM inbox_messages WHERE external_id = $1',
    [externalId],
  );
  expect(inboxLeft.map((r) => r.id).sort()).toEqual([inbox.readRecent, inbox.unreadOld].sort());
  const { rows: deliveriesLeft } = await stack.db.query<{ id: string }>(
    'SELECT id FROM deliveries WHERE notification_id = $1',
    [notificationId],
  );
  expect(deliveriesLeft.map((r) => r.id)).toEqual([deliveries.recent]);

  // A second run finds nothing more to delete.
  const again = await stack.client.workflow.execute<typeof retentionWorkflow>('retentionWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: uniq('retention-test'),
    args: [{ inboxReadOlderThanDays: 30, deliveriesOlderThanDays: 60, batchSize: 2, now: NOW }],
  });
  expect(again.inboxDeleted).toBe(0);
  expect(again.deliveriesDeleted).toBe(0);
});
