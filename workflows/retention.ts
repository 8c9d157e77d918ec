import { continueAsNew, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import type { RetentionTable } from '../activities/retention';

const DAY_MS = 86_400_000;
/** Batches per run before the workflow continues as new, keeping its history short. */
const MAX_BATCHES_PER_RUN = 500;

const options: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
const activities = proxyActivities<HeraldActivities>(options);

export interface RetentionWorkflowInput {
  /** Read inbox messages whose read_at is older than this many days go (90 by default). */
  inboxReadOlderThanDays?: number;
  /** Deliveries created more than this many days ago go (180 by default). */
  deliveriesOlderThanDays?: number;
  /** Rows per DELETE (1000 by default). */
  batchSize?: number;
  /** ISO time the ages count from; the workflow's start time by default. */
  now?: string;
  /** Counts carried over from earlier runs of the same clean-up (continueAsNew). */
  carried?: RetentionCounts;
}

export interface RetentionCounts {
  inboxDeleted: number;
  deliveriesDeleted: number;
}

export interface RetentionResult extends RetentionCounts {
  now: string;
  inboxCutoff: string;
  deliveriesCutoff: string;
}

/**
 * Nightly clean-up: deletes read inbox messages and delivery logs older than the configured ages,
 * one batch per activity until a batch comes back short. Meant to run on a Schedule.
 */
export async function retentionWorkflow(input: RetentionWorkflowInput = {}): Promise<RetentionResult> {
  const inboxDays = input.inboxReadOlderThanDays ?? 90;
  const deliveriesDays = input.deliveriesOlderThanDays ?? 180;
  const batchSize = input.batchSize ?? 1000;
  // Date.now() is deterministic in a workflow; fixing `now` keeps the cutoffs across continueAsNew.
  const now = input.now ?? new Date(Date.now()).toISOString();
  const nowMs = Date.parse(now);
  const cutoffs: Record<RetentionTable, string> = {
    inbox: new Date(nowMs - inboxDays * DAY_MS).toISOString(),
    deliveries: new Date(nowMs - deliveriesDays * DAY_MS).toISOString(),
  };
  const counts: RetentionCounts = { ...(input.carried ?? { inboxDeleted: 0, deliveriesDeleted: 0 }) };

  let batches = 0;
  for (const table of ['inbox', 'deliveries'] as const) {
    for (;;) {
      if (batches >= MAX_BATCHES_PER_RUN)
        return continueAsNew<typeof retentionWorkflow>({ ...input, now, carried: counts });
      batches += 1;
      const deleted = await activities.deleteRetentionBatch({
        table,
        olderThan: cutoffs[table],
        batchSize,
      });
      if (table === 'inbox') counts.inboxDeleted += deleted;
      else counts.deliveriesDeleted += deleted;
      if (deleted < batchSize) break;
    }
  }
  return { ...counts, now, inboxCutoff: cutoffs.inbox, deliveriesCutoff: cutoffs.deliveries };
}
