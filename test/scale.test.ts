import type { WorkflowHandle } from '@temporalio/client';
import { startStack, uniq, waitForNotification, type Stack } from './support/stack';

/** Temporal warns past this many history events in one execution. */
const HISTORY_WARNING_EVENTS = 10_240;
/** Temporal's limit on pending activities (and on pending children) of one execution. */
const PENDING_LIMIT = 2_000;
const RECIPIENTS = 5_000;
const BATCH_SIZE = 250;
const MAX_CONCURRENT_BATCHES = 4;

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

interface ExecutionStats {
  workflowId: string;
  runId: string;
  events: number;
  /** The most activities and child workflows pending at once over the whole history. */
  maxPending: number;
}

/** The most activities plus children open at once, replaying the history's open and close events. */
function maxPendingOf(events: HistoryEvent[]): number {
  let pending = 0;
  let max = 0;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes || e.startChildWorkflowExecutionInitiatedEventAttributes) {
      max = Math.max(max, ++pending);
    } else if (
      e.activityTaskCompletedEventAttributes ||
      e.activityTaskFailedEventAttributes ||
      e.activityTaskTimedOutEventAttributes ||
      e.activityTaskCanceledEventAttributes ||
      e.startChildWorkflowExecutionFailedEventAttributes ||
      e.childWorkflowExecutionCompletedEventAttributes ||
      e.childWorkflowExecutionFailedEventAttributes ||
      e.childWorkflowExecutionCanceledEventAttributes ||
      e.childWorkflowExecutionTimedOutEventAttributes ||
      e.childWorkflowExecutionTerminatedEventAttributes
    ) {
      pending--;
    }
  }
  return max;
}

/**
 * Every execution a notification involved: what visibility lists under its workflow id prefix, plus
 * whatever the histories themselves point at (child workflows, continue-as-new runs), recursively.
 */
async function executionsOf(stack: Stack, workflowId: string): Promise<ExecutionStats[]> {
  const queue: { workflowId: string; runId?: string }[] = [];
  // Visibility is eventually consistent: wait until it lists at least the notification's own run.
  for (let i = 0; i < 50; i++) {
    const listed: { workflowId: string; runId: string }[] = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}'` })) {
      listed.push({ workflowId: wf.workflowId, runId: wf.runId });
    }
    if (listed.some((wf) => wf.workflowId === workflowId)) {
      queue.push(...listed);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (queue.length === 0) queue.push({ workflowId });

  const seen = new Map<string, ExecutionStats>();
  while (queue.length > 0) {
    const next = queue.shift()!;
    const handle = stack.client.workflow.getHandle(next.workflowId, next.runId);
    const runId = next.runId ?? (await handle.describe()).runId;
    const key = `${next.workflowId}/${runId}`;
    if (seen.has(key)) continue;
    const events = (await handle.fetchHistory()).events ?? [];
    seen.set(key, {
      workflowId: next.workflowId,
      runId,
      events: events.length,
      maxPending: maxPendingOf(events),
    });
    for (const e of events) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const continued = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (continued) queue.push({ workflowId: next.workflowId, runId: continued });
    }
  }
  return [...seen.values()];
}

describe('fan-out at scale', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      sink: { envelopesOnly: true },
      apiEnv: { BATCH_SIZE: String(BATCH_SIZE), MAX_CONCURRENT_BATCHES: String(MAX_CONCURRENT_BATCHES) },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  it(`delivers one notification to a group of ${RECIPIENTS} exactly once, with small histories`, async () => {
    const prefix = uniq('scale');
    const groupName = `Scale ${prefix}`;
    await stack.db.query(
      `INSERT INTO recipients (tenant_id, external_id, name, email)
       SELECT $3, $1 || '-' || i, 'Scale ' || i, $1 || '-' || i || '@example.com'
         FROM generate_series(1, $2) i`,
      [prefix, RECIPIENTS, stack.tenantId],
    );
    await stack.db.query(`INSERT INTO groups (tenant_id, key, name) VALUES ($3, $1, $2)`, [
      prefix,
      groupName,
      stack.tenantId,
    ]);
    await stack.db.query(
      `INSERT INTO group_members (tenant_id, group_key, external_id)
       SELECT $3, $1, $1 || '-' || i FROM generate_series(1, $2) i`,
      [prefix, RECIPIENTS, stack.tenantId],
    );

    const start = performance.now();
    const created = await stack.api('POST', '/v1/notifications', {
      event: 'ticket.assigned',
      to: { groups: [prefix] },
      channels: ['email'],
      data: { ticketId: '5000', title: 'Scale test' },
    });
    expect(created.status).toBe(202);
    const id: string = created.body.id;
    const view = await waitForNotification(stack, id, 300_000);
    const seconds = (performance.now() - start) / 1000;
    expect(view.status).toBe('completed');
    expect(view.counts).toEqual({ sent: RECIPIENTS });

    // Every address exactly once: none missing, none twice.
    const envelopes = stack.sink.envelopes().filter((e) => e.messageId.startsWith(`<${id}.`));
    expect(envelopes).toHaveLength(RECIPIENTS);
    const addresses = envelopes.flatMap((e) => e.envelopeTo);
    expect(addresses).toHaveLength(RECIPIENTS);
    const unique = new Set(addresses);
    expect(unique.size).toBe(RECIPIENTS);
    const missing = Array.from({ length: RECIPIENTS }, (_, i) => `${prefix}-${i + 1}@example.com`).filter(
      (a) => !unique.has(a),
    );
    expect(missing).toEqual([]);
    expect(new Set(envelopes.map((e) => e.messageId)).size).toBe(RECIPIENTS);

    // No execution involved comes near Temporal's history or pending-work limits.
    const executions = await executionsOf(stack, created.body.workflowId);
    expect(executions.map((e) => e.workflowId)).toContain(created.body.workflowId);
    const largest = executions.reduce((a, b) => (b.events > a.events ? b : a));
    const busiest = executions.reduce((a, b) => (b.maxPending > a.maxPending ? b : a));
    console.log(
      `fan-out to ${RECIPIENTS} recipients (batch ${BATCH_SIZE}, ${MAX_CONCURRENT_BATCHES} in flight): ` +
        `${seconds.toFixed(1)} s, ${(RECIPIENTS / seconds).toFixed(0)} mails/s; ` +
        `${executions.length} execution(s), largest history ${largest.events} events (${largest.workflowId}), ` +
        `at most ${busiest.maxPending} activities/children pending at once`,
    );
    for (const execution of executions) {
      expect(execution.events).toBeLessThanOrEqual(HISTORY_WARNING_EVENTS);
      expect(execution.maxPending).toBeLessThanOrEqual(PENDING_LIMIT);
    }

    // Per-recipient state stays queryable: the delivery log pages by recipient.
    const someone = `${prefix}-${Math.ceil(RECIPIENTS / 2)}`;
    const mail = envelopes.find((e) => e.envelopeTo.includes(`${someone}@example.com`))!;
    const log = await stack.api('GET', `/v1/deliveries?recipient=${someone}`);
    expect(log.status).toBe(200);
    expect(log.body.items).toEqual([
      expect.objectContaining({
        notificationId: id,
        recipientKey: someone,
        channel: 'email',
        address: `${someone}@example.com`,
        status: 'sent',
        attempts: 1,
        providerMessageId: mail.messageId,
      }),
    ]);
    expect(log.body.nextCursor).toBeNull();
  }, 600_000);
});
