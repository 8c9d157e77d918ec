import type { Client, WorkflowHandle } from '@temporalio/client';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface ExecutionStats {
  workflowId: string;
  runId: string;
  events: number;
  continuedAsNew: boolean;
}

/**
 * Every execution a notification involved: what visibility lists under its workflow id prefix, plus
 * whatever the histories point at (child workflows, continue-as-new runs), recursively.
 */
export async function executionsOf(client: Client, workflowId: string): Promise<ExecutionStats[]> {
  const queue: { workflowId: string; runId?: string }[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH '${workflowId}'` })) {
    queue.push({ workflowId: wf.workflowId, runId: wf.runId });
  }
  if (!queue.some((wf) => wf.workflowId === workflowId)) queue.push({ workflowId });
  const seen = new Map<string, ExecutionStats>();
  while (queue.length > 0) {
    const next = queue.shift()!;
    const handle = client.workflow.getHandle(next.workflowId, next.runId);
    const runId = next.runId ?? (await handle.describe()).runId;
    if (seen.has(`${next.workflowId}/${runId}`)) continue;
    const events = (await handle.fetchHistory()).events ?? [];
    let continuedAsNew = false;
    for (const e of events) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const continued = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (continued) {
        continuedAsNew = true;
        queue.push({ workflowId: next.workflowId, runId: continued });
      }
    }
    seen.set(`${next.workflowId}/${runId}`, {
      workflowId: next.workflowId,
      runId,
      events: events.length,
      continuedAsNew,
    });
  }
  return [...seen.values()];
}

/** The workflow's pending activities (attempt, last failure) and recent task failures, for a stuck run. */
export async function diagnose(handle: WorkflowHandle): Promise<string> {
  const description = await handle.describe();
  const pending = (description.raw.pendingActivities ?? []).map(
    (a) =>
      `${a.activityType?.name} attempt ${a.attempt} (${a.state}): ${a.lastFailure?.message ?? 'no failure yet'}`,
  );
  const events: HistoryEvent[] = (await handle.fetchHistory()).events ?? [];
  const failures = events
    .map(
      (e) =>
        e.workflowTaskFailedEventAttributes?.failure?.message ??
        e.activityTaskFailedEventAttributes?.failure?.message ??
        (e.activityTaskTimedOutEventAttributes
          ? `activity timed out: ${e.activityTaskTimedOutEventAttributes.failure?.message ?? ''}`
          : undefined),
    )
    .filter(Boolean);
  return [
    `workflow ${description.status.name}, ${events.length} history events`,
    `pending: ${pending.length ? pending.join('; ') : 'none'}`,
    `last failures: ${JSON.stringify(failures.slice(-3))}`,
  ].join('\n');
}

/**
 * Waits for every workflow's result, at most `limit` long polls open at once, taken in start order
 * so that each answer arrives about when its workflow closes. Counts failures instead of throwing.
 */
export async function awaitResults(
  handles: AsyncIterable<WorkflowHandle> | Iterable<WorkflowHandle>,
  limit = 50,
): Promise<{ completed: number; failed: number; firstFailure?: string }> {
  let completed = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const open = new Set<Promise<void>>();
  for await (const handle of handles) {
    const waiting: Promise<void> = handle.result().then(
      () => void completed++,
      (error: unknown) => {
        failed++;
        firstFailure ??= `${handle.workflowId}: ${(error as Error).message}`;
      },
    );
    const tracked = waiting.finally(() => open.delete(tracked));
    open.add(tracked);
    if (open.size >= limit) await Promise.race(open);
  }
  await Promise.all(open);
  return { completed, failed, firstFailure };
}
