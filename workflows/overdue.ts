import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import type { OverdueItem } from '../activities/overdue';
import type { DeliveryTuning } from '../common/types';

const DEFAULT_REPEAT_SECONDS = 86_400;
const PAGE_SIZE = 100;

const options: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
const activities = proxyActivities<HeraldActivities>(options);

export interface OverdueWorkflowInput {
  /** ISO time the run looks at; the workflow's start time by default. */
  now?: string;
  /** List what would be sent, send nothing. */
  dryRun?: boolean;
  /** Each item is notified at most once per this many seconds (a day by default). */
  repeatSeconds?: number;
  /** Only this tenant's items; every tenant's by default. */
  tenantId?: string;
  /** Only items whose key starts with this. */
  keyPrefix?: string;
  /** Delivery tuning of the notifications; the worker's (or the API's defaults) otherwise. */
  tuning?: DeliveryTuning;
}

export interface OverdueWorkflowResult {
  dryRun: boolean;
  now: string;
  items: OverdueItem[];
}

/**
 * One overdue run: pages through open items past due that were not notified within the repeat
 * interval and, unless a dry run, notifies each one's audience (one idempotent activity per item).
 * Meant to run on a Schedule; `herald overdue [--dry-run]` runs it once.
 */
export async function overdueWorkflow(input: OverdueWorkflowInput = {}): Promise<OverdueWorkflowResult> {
  const now = input.now ?? new Date().toISOString();
  const dryRun = input.dryRun ?? false;
  const repeatSeconds = input.repeatSeconds ?? DEFAULT_REPEAT_SECONDS;
  const items: OverdueItem[] = [];
  let after: { tenantId: string; key: string } | undefined;
  for (let page = 1; ; page++) {
    const found = await activities.findOverdueDeadlines.executeWithOptions(
      { ...options, summary: `find overdue items, page ${page}${dryRun ? ' (dry run)' : ''}` },
      [{ now, repeatSeconds, tenantId: input.tenantId, keyPrefix: input.keyPrefix, after, limit: PAGE_SIZE }],
    );
    if (dryRun) {
      items.push(...found.items);
    } else {
      const sent = await Promise.all(
        found.items.map((item) =>
          activities.notifyOverdueDeadline.executeWithOptions(
            { ...options, summary: `${item.event} overdue → ${item.key}` },
            [{ tenantId: item.tenantId, key: item.key, now, repeatSeconds, tuning: input.tuning }],
          ),
        ),
      );
      found.items.forEach((item, i) => {
        const notificationId = sent[i]?.notificationId;
        items.push(notificationId ? { ...item, notificationId } : item);
      });
    }
    if (!found.next) break;
    after = found.next;
  }
  return { dryRun, now, items };
}
