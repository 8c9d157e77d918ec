import { openDeliveriesInRange, openDeliveryRanges } from '../../db/queries/deliveries';
import { markNotificationFinished } from '../../db/queries/notifications';
import type { StepContext } from './deps';
import { createFailoverSteps } from './failover';
import { finalStatus, type DeliveryCounts } from './finish';
import { createResolveSteps, type PrepareInput, type ResolvedLevel } from './resolve';
import { createSendBatch } from './send-batch';

export interface ResolveAudienceInput extends PrepareInput {
  /**
   * Send a small audience in the same activity: when the level has at most `maxDeliveries` open and
   * quiet hours hold none back, its sends (and failover links) run here, and with `finish` the
   * notification's final status is recorded too, so a one-person notification is one activity.
   */
  sendNow?: { maxDeliveries: number; ackable: boolean; finish: boolean };
}

export interface ResolvedAudience extends ResolvedLevel {
  /** The small-audience path ran: what is still open failed temporarily once already. */
  sentNow: boolean;
  /** The longest wait a provider asked for before those are retried (Retry-After). */
  retryAfterMs: number | null;
  /** Set when the small-audience path sent everything and recorded the final status. */
  finished: { status: 'completed' | 'failed'; counts: DeliveryCounts } | null;
}

/** Failover rounds tried inline: a chain is at most one link per channel. */
const MAX_INLINE_FAILOVER_ROUNDS = 6;

export function createResolveAudience(step: StepContext) {
  const { db } = step.deps;
  const resolve = createResolveSteps(step);
  const { sendRows } = createSendBatch(step);
  const { wakeNextInChains } = createFailoverSteps(step);

  /** Sends a level's open rows (or only `onlyIds`); the longest Retry-After asked for, if any. */
  async function sendOpen(
    input: ResolveAudienceInput,
    level: number,
    onlyIds: string[] | null,
  ): Promise<number | null> {
    const { ranges } = await openDeliveryRanges(db, input.notificationId, input.batchSize, level, onlyIds);
    let retryAfterMs: number | null = null;
    for (const range of ranges) {
      const rows = await openDeliveriesInRange(db, input.notificationId, range.channel, range);
      const result = await sendRows(
        {
          notificationId: input.notificationId,
          tenantId: input.tenantId,
          event: input.request.event,
          priority: input.request.priority,
          data: input.request.data,
          range,
          ackable: input.sendNow?.ackable,
        },
        rows,
        // Temporary failures stay `retrying`: the workflow sends them as batches with backoff.
        { throwOnTransient: false },
      );
      if (result.retryAfterMs) retryAfterMs = Math.max(retryAfterMs ?? 0, result.retryAfterMs);
    }
    return retryAfterMs;
  }

  /** Resolves a level (see `resolveLevel`), and sends it at once when it is small (see `sendNow`). */
  async function resolveAudience(input: ResolveAudienceInput): Promise<ResolvedAudience> {
    await resolve.resolveLevel(input);
    const level = input.level ?? 0;
    const resolved = await resolve.levelState(input.notificationId, level, input.batchSize);
    await resolve.markResolved(input.notificationId, level, resolved);
    const small = input.sendNow;
    if (!small || resolved.open === 0 || resolved.open > small.maxDeliveries || resolved.held > 0) {
      return { ...resolved, sentNow: false, retryAfterMs: null, finished: null };
    }
    let retryAfterMs = await sendOpen(input, level, null);
    for (let round = 0; round < MAX_INLINE_FAILOVER_ROUNDS; round++) {
      const woken = await wakeNextInChains(input.notificationId, level);
      if (woken.length === 0) break;
      const asked = await sendOpen(input, level, woken);
      if (asked) retryAfterMs = Math.max(retryAfterMs ?? 0, asked);
    }
    const after = await resolve.levelState(input.notificationId, level, input.batchSize);
    if (!small.finish || after.open > 0) return { ...after, sentNow: true, retryAfterMs, finished: null };
    const status = finalStatus(after.counts);
    await markNotificationFinished(db, input.notificationId, status);
    return { ...after, sentNow: true, retryAfterMs, finished: { status, counts: after.counts } };
  }

  return { resolveAudience };
}
