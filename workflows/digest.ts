import { continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import type { SendDueDigestsInput } from '../activities/digest';

type DigestCursor = SendDueDigestsInput['after'];

export interface DigestWorkflowInput {
  /** The instant digests are due at (ISO); defaults to the workflow's time. */
  now?: string;
  /** Recipients per activity. */
  pageSize?: number;
  tenantId?: string;
  /** Set by continueAsNew: items created after the cutoff wait for the next run. */
  cutoff?: string;
  after?: DigestCursor;
  totals?: DigestWorkflowResult;
}

export interface DigestWorkflowResult {
  now: string;
  cutoff: string;
  digests: number;
  items: number;
  failed: number;
}

/** Pages per run before continuing as new, so the history stays small however many recipients. */
const PAGES_PER_RUN = 200;
const DEFAULT_PAGE_SIZE = 100;

const { sendDueDigests } = proxyActivities<HeraldActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * The digest run (on a schedule, e.g. every 15 minutes): walks the recipients with pending digest
 * items page by page, and each page's activity sends the digests that are due at `now` in each
 * recipient's own zone. The cutoff is fixed at the start, so items that arrive during the run wait
 * for the next one; each item is claimed and marked sent in one transaction, so it is in one digest.
 */
export async function digestWorkflow(input: DigestWorkflowInput = {}): Promise<DigestWorkflowResult> {
  const now = input.now ?? new Date(Date.now()).toISOString();
  const cutoff = input.cutoff ?? now;
  const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
  const totals: DigestWorkflowResult = input.totals ?? { now, cutoff, digests: 0, items: 0, failed: 0 };
  let after = input.after ?? null;
  for (let pages = 0; ; pages++) {
    if (pages >= PAGES_PER_RUN) {
      await continueAsNew<typeof digestWorkflow>({ ...input, now, cutoff, pageSize, after, totals });
    }
    const page = await sendDueDigests({ cutoff, now, after, pageSize, tenantId: input.tenantId });
    totals.digests += page.sent.length;
    totals.items += page.sent.reduce((n, s) => n + s.items, 0);
    totals.failed += page.failed.length;
    if (!page.next) return totals;
    after = page.next;
  }
}
