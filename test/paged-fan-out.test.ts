import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/**
 * A notification whose audience spans several runs: tiny batches and pages and a short history per
 * run force it to continue as new again and again, as a million-person one does at full size.
 */
const PAGING_ENV = {
  BATCH_SIZE: '2',
  RANGES_PER_PAGE: '2',
  MAX_CONCURRENT_BATCHES: '2',
  HISTORY_EVENTS_PER_RUN: '50',
  // Through batches, not the small-audience path, however small.
  SMALL_AUDIENCE_DELIVERIES: '0',
};
const AUDIENCE = 60;

describe('a notification that continues as new across runs', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Slow enough data phases that a cancel or ack can arrive after the first boundary.
    stack = await startStack({ apiEnv: PAGING_ENV, sink: { dataDelayMs: 60 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const emails = (prefix: string) =>
    Array.from({ length: AUDIENCE }, (_, i) => `${uniq(prefix)}-${i}@example.com`);
  const handleOf = (id: string) => stack.client.workflow.getHandle(`notification-${id}`);

  /** Every run of the notification's workflow, oldest first, with its history length. */
  async function runsOf(id: string): Promise<{ runId: string; events: number; continued: boolean }[]> {
    const runs: { runId: string; events: number; continued: boolean }[] = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = 'notification-${id}'` })) {
      const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const events = history.events ?? [];
      runs.push({
        runId: wf.runId,
        events: events.length,
        continued: events.some((e) => e.workflowExecutionContinuedAsNewEventAttributes),
      });
    }
    return runs.reverse();
  }

  /** Waits until the workflow's current run is not the first one (it has continued as new). */
  async function afterFirstBoundary(id: string): Promise<string> {
    const first = (await handleOf(id).describe()).runId;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const current = (await handleOf(id).describe()).runId;
      if (current !== first) return current;
      if (Date.now() > deadline) throw new Error(`notification ${id} never continued as new`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('delivers to everyone exactly once over several runs, each with a short history', async () => {
    const to = emails('paged');
    const created = await stack.api('POST', '/v1/notifications', { event: 'test_email', to: { emails: to } });
    expect(created.status).toBe(202);
    const id: string = created.body.id;

    // The query answers across the boundary, from the new run, with the state carried over.
    const current = await afterFirstBoundary(id);
    const progress = await handleOf(id).query('state');
    expect(progress).toMatchObject({ notificationId: id, recipients: AUDIENCE, deliveries: AUDIENCE });
    expect((progress as { counts: { sent?: number } }).counts.sent).toBeGreaterThan(0);

    const done = await waitForNotification(stack, id);
    expect(done).toMatchObject({ status: 'completed' });
    const rows = await stack.db.query<{ address: string; status: string; attempts: number }>(
      'SELECT address, status, attempts FROM deliveries WHERE notification_id = $1',
      [id],
    );
    expect(rows.rows).toHaveLength(AUDIENCE);
    expect(rows.rows.every((r) => r.status === 'sent' && r.attempts === 1)).toBe(true);
    const received = stack.sink.messages().filter((m) => m.messageId.startsWith(`<${id}.`));
    expect(received.map((m) => m.envelopeTo[0]).sort()).toEqual([...to].map((e) => e.toLowerCase()).sort());

    const runs = await runsOf(id);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.map((r) => r.runId)).toContain(current);
    // Every run but the last continued as new; each stayed near its limit (50) instead of growing.
    expect(runs.slice(0, -1).every((r) => r.continued)).toBe(true);
    expect(runs[runs.length - 1]!.continued).toBe(false);
    for (const run of runs) expect(run.events).toBeLessThan(120);
    const result = (await handleOf(id).result()) as { recipients: number; counts: { sent: number } };
    expect(result).toMatchObject({ recipients: AUDIENCE, counts: { sent: AUDIENCE } });
  });

  it('can be cancelled after the boundary: what was sent stays sent, the rest is skipped', async () => {
    const to = emails('cancel');
    const created = await stack.api('POST', '/v1/notifications', { event: 'test_email', to: { emails: to } });
    const id: string = created.body.id;
    await afterFirstBoundary(id);
    const cancel = await stack.api('POST', `/v1/notifications/${id}/cancel`);
    if (cancel.status !== 200) console.log(JSON.stringify(cancel.body));
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ cancelled: true });
    const done = await waitForNotification(stack, id);
    expect(done.status).toBe('cancelled');
    const rows = await stack.db.query<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM deliveries WHERE notification_id = $1 GROUP BY status',
      [id],
    );
    const counts = Object.fromEntries(rows.rows.map((r) => [r.status, Number(r.n)]));
    expect((counts.sent ?? 0) + (counts.skipped ?? 0)).toBe(AUDIENCE);
    expect(counts.skipped).toBeGreaterThan(0);
    expect(cancel.body.sentBeforeCancel).toBe(counts.sent);
    // Nobody got a second copy, and nobody skipped got one at all.
    const received = stack.sink.messages().filter((m) => m.messageId.startsWith(`<${id}.`));
    expect(new Set(received.map((m) => m.envelopeTo[0])).size).toBe(received.length);
    expect(received).toHaveLength(counts.sent ?? 0);
  });

  it('is acknowledged after the boundary: the escalation level carried over stops', async () => {
    const person = uniq('tech');
    expect(
      (await stack.api('PUT', `/v1/recipients/${person}`, { name: 'Tech', email: `${person}@example.com` }))
        .status,
    ).toBe(201);
    const to = emails('ack');
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'test_email',
      to: { emails: to, recipients: [person] },
      escalation: { levels: [{ afterSeconds: 3600, recipients: [person] }] },
    });
    const id: string = created.body.id;
    await afterFirstBoundary(id);
    // The sends are over once the run waits for the acknowledgement (in a later run than the first).
    const deadline = Date.now() + 60_000;
    while (((await handleOf(id).query('state')) as { phase: string }).phase !== 'waiting_ack') {
      if (Date.now() > deadline) throw new Error('never waited for the acknowledgement');
      await new Promise((r) => setTimeout(r, 50));
    }
    const ack = await stack.api('POST', `/v1/notifications/${id}/ack`, { by: person });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ accepted: true, stoppedLevels: 1 });
    const done = await waitForNotification(stack, id);
    expect(done.status).toBe('completed');
    const result = (await handleOf(id).result()) as {
      acknowledged: { by: string } | null;
      counts: { sent: number };
    };
    expect(result.acknowledged?.by).toBe(person);
    expect(result.counts.sent).toBe(AUDIENCE + 1);
    expect((await runsOf(id)).length).toBeGreaterThanOrEqual(2);
  });
});
