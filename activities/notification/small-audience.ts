import type { ChannelName } from '../../common/types';
import {
  countDeliveriesByStatus,
  levelSummary,
  OPEN_STATUSES,
  type OpenDelivery,
} from '../../db/queries/deliveries';
import { markSmallNotificationFinished, openDeliveriesOfLevel } from '../../db/queries/small-audience';
import type { StepContext } from './deps';
import { createFailoverSteps } from './failover';
import { finalStatus, type DeliveryCounts } from './finish';
import { createResolveSteps, type PrepareInput, type ResolvedLevel } from './resolve';
import { createSendBatch, type SendLook } from './send-batch';

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

const openCount = (counts: DeliveryCounts) =>
  OPEN_STATUSES.reduce((n, status) => n + (counts[status] ?? 0), 0);

export function createResolveAudience(step: StepContext) {
  const { db } = step.deps;
  const resolve = createResolveSteps(step);
  const { sendRows, loadLook } = createSendBatch(step);
  const { wakeNextInChains } = createFailoverSteps(step);

  /** Sends open rows channel by channel; what failed for good, and the longest Retry-After asked for. */
  async function sendAll(input: ResolveAudienceInput, level: number, rows: OpenDelivery[], look: SendLook) {
    const byChannel = new Map<ChannelName, OpenDelivery[]>();
    for (const row of rows)
      byChannel.set(row.channel as ChannelName, [...(byChannel.get(row.channel as ChannelName) ?? []), row]);
    let failed = 0;
    let retryAfterMs: number | null = null;
    for (const [channel, own] of byChannel) {
      const result = await sendRows(
        {
          notificationId: input.notificationId,
          tenantId: input.tenantId,
          event: input.request.event,
          priority: input.request.priority,
          data: input.request.data,
          range: {
            channel,
            level,
            notBefore: null,
            fromId: own[0]!.id,
            toId: own[own.length - 1]!.id,
            size: own.length,
            label: own.map((r) => r.address).join(', '),
          },
          ackable: input.sendNow?.ackable,
        },
        own,
        // Temporary failures stay `retrying`: the workflow sends them as batches with backoff.
        { throwOnTransient: false, look },
      );
      failed += result.failed;
      if (result.retryAfterMs) retryAfterMs = Math.max(retryAfterMs ?? 0, result.retryAfterMs);
    }
    return { failed, retryAfterMs };
  }

  /** Resolves a level (see `resolveLevel`), and sends it at once when it is small (see `sendNow`). */
  async function resolveAudience(input: ResolveAudienceInput): Promise<ResolvedAudience> {
    const templates = await resolve.resolveLevel(input);
    const level = input.level ?? 0;
    const summary = await levelSummary(db, {
      notificationId: input.notificationId,
      level,
      batchSize: input.batchSize,
      now: new Date(),
    });
    const small = input.sendNow;
    if (!small || summary.open === 0 || summary.open > small.maxDeliveries || summary.held > 0) {
      const resolved = { ...summary, counts: await countDeliveriesByStatus(db, input.notificationId) };
      await resolve.markResolved(input.notificationId, level, resolved);
      return { ...resolved, sentNow: false, retryAfterMs: null, finished: null };
    }
    // Read once for every channel and failover round: the catalogue as the resolve step just read it.
    const [look, openRows] = await Promise.all([
      loadLook(input.tenantId, templates),
      openDeliveriesOfLevel(db, input.notificationId, level),
    ]);
    let round = await sendAll(input, level, openRows, look);
    let retryAfterMs = round.retryAfterMs;
    // Only a permanent failure wakes a failover link.
    for (let i = 0; i < MAX_INLINE_FAILOVER_ROUNDS && round.failed > 0; i++) {
      const woken = await wakeNextInChains(input.notificationId, level);
      if (woken.length === 0) break;
      round = await sendAll(
        input,
        level,
        await openDeliveriesOfLevel(db, input.notificationId, level, woken),
        look,
      );
      if (round.retryAfterMs) retryAfterMs = Math.max(retryAfterMs ?? 0, round.retryAfterMs);
    }
    const counts = await countDeliveriesByStatus(db, input.notificationId);
    // Earlier levels are over by now: what is open is this level's.
    const open = openCount(counts);
    const resolved = { ...summary, open, batches: open > 0 ? 1 : 0, counts };
    if (!small.finish || open > 0) {
      await resolve.markResolved(input.notificationId, level, resolved);
      return { ...resolved, sentNow: true, retryAfterMs, finished: null };
    }
    const status = finalStatus(counts);
    await markSmallNotificationFinished(db, input.notificationId, status, summary.recipients);
    return { ...resolved, sentNow: true, retryAfterMs, finished: { status, counts } };
  }

  return { resolveAudience };
}
