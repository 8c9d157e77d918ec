import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import { expandLevels } from './escalation-levels';
import { ERROR_TYPES } from '../common/errors';
import { ackUpdate, cancelUpdate, notificationStateQuery, SEARCH_ATTRIBUTES } from '../common/temporal';
import type {
  Acknowledgement,
  CancelResult,
  ChannelRetryPolicy,
  EscalationLevel,
  IdRange,
  NotificationOutcome,
  NotificationProgress,
  NotificationWorkflowInput,
} from '../common/types';

const bookkeepingOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
const bookkeeping = proxyActivities<HeraldActivities>(bookkeepingOptions);

const sendOptions = (retry: ChannelRetryPolicy, heartbeatTimeoutMs: number): ActivityOptions => ({
  startToCloseTimeout: '15 minutes',
  // A dead worker is noticed after one heartbeat timeout, and the batch resumes elsewhere.
  heartbeatTimeout: heartbeatTimeoutMs,
  retry: {
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maximumIntervalMs,
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: [ERROR_TYPES.unknownChannel],
  },
});

/**
 * The notification workflow as runs started before paged fan-out (`patched('paged-fan-out')`) replay
 * it: every batch of the audience at once, no continue-as-new. New runs use ./notification.ts.
 *
 * One notification: resolve the audience into delivery rows, send them in batches through a sliding
 * window of activities, then, with an escalation policy, wait for an acknowledgement and escalate
 * level by level. Per-recipient state lives in the delivery log; the workflow keeps only counts, so
 * its history stays small however large the audience. `cancel` stops everything still pending, waits
 * for running batches to stop, and answers with what was sent before it took effect.
 */
export async function legacyNotificationWorkflow(
  input: NotificationWorkflowInput,
): Promise<NotificationOutcome> {
  const { notificationId, tenantId, request, tuning } = input;
  const levels = expandLevels(request.escalation?.levels ?? [], request.escalation?.repeat ?? 0);
  const progress: NotificationProgress = {
    notificationId,
    phase: 'resolving',
    recipients: 0,
    deliveries: 0,
    batchesTotal: 0,
    batchesDone: 0,
    counts: {},
    quietHours: null,
    escalation: null,
    acknowledged: null,
  };
  let acknowledged: Acknowledgement | null = null;
  let cancelled = false;
  let finished = false;
  let inFlight = 0;
  /** Runs that started before cancel waited for batches replay the old way (answer at once). */
  const cancelWaitsForBatches = () => patched('cancel-waits-for-batches');
  let cancelWaits = false;
  /** Until the sends and escalations are over: a cancel after that has nothing left to stop. */
  let delivering = true;
  /** Set once a waiting cancel has taken effect: what the log says went out. */
  let sentBeforeCancel: number | null = null;
  const startedAt = workflowInfo().startTime.getTime();
  const dueAt = (level: EscalationLevel) => new Date(startedAt + level.afterSeconds * 1000).toISOString();
  if (levels[0]) progress.escalation = { level: 0, levels: levels.length, nextAt: dueAt(levels[0]) };
  const levelsLeft = () => (progress.escalation ? progress.escalation.levels - progress.escalation.level : 0);

  setHandler(notificationStateQuery, () => progress);
  setHandler(ackUpdate, ({ by }) => {
    const refuse = (reason: string) => ({ accepted: false, reason, acknowledged, stoppedLevels: 0 });
    if (acknowledged) return refuse(`already acknowledged by ${acknowledged.by}`);
    if (cancelled) return refuse('the notification was cancelled');
    if (finished) return refuse('the notification has finished');
    acknowledged = { by, at: new Date().toISOString() };
    progress.acknowledged = acknowledged;
    return { accepted: true, reason: null, acknowledged, stoppedLevels: levelsLeft() };
  });
  setHandler(cancelUpdate, () => {
    const pending = {
      batches: progress.batchesTotal - progress.batchesDone,
      escalationLevels: acknowledged ? 0 : levelsLeft(),
      nextEscalationAt: acknowledged ? null : (progress.escalation?.nextAt ?? null),
      quietHoursDeliveries: progress.quietHours?.deliveries ?? 0,
    };
    if (finished || cancelled || (!delivering && cancelWaitsForBatches())) {
      return { cancelled: false, reason: 'the notification has finished', pending, sentBeforeCancel: 0 };
    }
    cancelled = true;
    work.cancel();
    cancelWaits = cancelWaitsForBatches();
    // Only a replay of a run cancelled the old way comes here; its recorded answer is what counts.
    if (!cancelWaits)
      return { cancelled: true, reason: null, pending, sentBeforeCancel: progress.counts.sent ?? 0 };
    // The answer waits until the batches have stopped and the log is final.
    return condition(() => sentBeforeCancel !== null).then((): CancelResult => ({
      cancelled: true,
      reason: null,
      pending,
      sentBeforeCancel: sentBeforeCancel!,
    }));
  });

  const sender = proxyActivities<HeraldActivities>(
    sendOptions(tuning.retry.email, tuning.heartbeatTimeoutMs),
  );

  const sendRange = async (range: IdRange, outageBackoffMs = 500): Promise<void> => {
    const retry = tuning.retry[range.channel];
    const level = range.level > 0 ? ` (escalation ${range.level})` : '';
    try {
      await sender.sendBatch.executeWithOptions(
        {
          ...sendOptions(retry, tuning.heartbeatTimeoutMs),
          // On cancel the batch's promise settles only once the activity has really stopped.
          ...(cancelWaitsForBatches()
            ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }
            : {}),
          summary: `${range.channel} → ${range.label}${level}`,
        },
        [
          {
            notificationId,
            tenantId,
            event: request.event,
            priority: request.priority,
            data: request.data,
            range,
            ackable: levels.length > 0,
          },
        ],
      );
    } catch (error) {
      if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
      if (databaseOutage(error)) {
        // The log was unreachable: resume the batch later (its open rows only), with no limit.
        outageBackoffMs = Math.min(outageBackoffMs * 2, 60_000);
        await sleep(outageBackoffMs, {
          summary: `delivery log unreachable: resume in ${outageBackoffMs / 1000}s`,
        });
        return sendRange(range, outageBackoffMs);
      }
      // Retries exhausted: the rows still open in this batch have failed for good.
      await bookkeeping.failUnsentDeliveries.executeWithOptions(
        { ...bookkeepingOptions, summary: `${range.channel} retries exhausted → ${range.label}` },
        [{ notificationId, range, reason: `gave up after ${retry.maximumAttempts} attempts` }],
      );
    }
  };

  /**
   * Sends what may go now, and each group held back by quiet hours after one durable timer per
   * distinct end time (recipients whose windows end together share it).
   */
  const sendRespectingQuietHours = async (ranges: IdRange[]): Promise<void> => {
    const now = ranges.filter((r) => r.notBefore === null || Date.parse(r.notBefore) <= Date.now());
    const later = new Map<string, IdRange[]>();
    for (const range of ranges) {
      if (now.includes(range)) continue;
      later.set(range.notBefore!, [...(later.get(range.notBefore!) ?? []), range]);
    }
    const held = () => [...later.values()].flat();
    const updateQuietHours = () => {
      const waiting = held();
      const next = [...later.keys()].sort()[0] ?? null;
      progress.quietHours = waiting.length
        ? { deliveries: waiting.reduce((n, r) => n + r.size, 0), nextAt: next }
        : progress.quietHours && { deliveries: 0, nextAt: null };
    };
    updateQuietHours();
    const waits = [...later.entries()].map(async ([until, group]) => {
      await sleep(Math.max(0, Date.parse(until) - Date.now()), {
        summary: `quiet hours: ${group.reduce((n, r) => n + r.size, 0)} deliveries wait until ${until}`,
      });
      later.delete(until);
      updateQuietHours();
      progress.phase = 'sending';
      await sendAll(group);
    });
    // Handled here too: if cancel interrupts sendAll(now), a wait rejecting later must not go unhandled.
    for (const wait of waits) wait.catch(() => undefined);
    await sendAll(now);
    if (later.size > 0) progress.phase = 'waiting_quiet_hours';
    await Promise.all(waits);
  };

  /** Sends ranges through a sliding window of at most maxConcurrentBatches batches in flight. */
  const sendAll = async (ranges: IdRange[]): Promise<void> => {
    progress.batchesTotal += ranges.length;
    const batches: Promise<void>[] = [];
    for (const range of ranges) {
      await condition(() => inFlight < tuning.maxConcurrentBatches);
      inFlight++;
      const batch = sendRange(range).finally(() => {
        inFlight--;
        progress.batchesDone++;
      });
      // A cancel can end this loop before Promise.all below; the batch's rejection is not unhandled then.
      batch.catch(() => undefined);
      batches.push(batch);
    }
    await Promise.all(batches);
  };

  /** Each permanent failure in a recipient's failover chain wakes the next channel, until none is left. */
  const failover = async (level: number): Promise<void> => {
    // Runs that started before failover existed replay without these activities.
    if (!patched('failover-chains')) return;
    for (;;) {
      const woken = await bookkeeping.wakeFailover.executeWithOptions(
        { ...bookkeepingOptions, summary: 'failover: wake the next channel of failed chains' },
        [{ notificationId, level, batchSize: tuning.batchSize }],
      );
      if (woken.ranges.length === 0) return;
      await sendAll(woken.ranges);
    }
  };

  const deliver = async (): Promise<void> => {
    const prepared = await bookkeeping.prepareDeliveries.executeWithOptions(
      { ...bookkeepingOptions, summary: `resolve audience of ${request.event}` },
      [
        {
          notificationId,
          tenantId,
          request,
          batchSize: tuning.batchSize,
          quietHoursBypassHigh: tuning.quietHoursBypassHigh,
        },
      ],
    );
    progress.recipients = prepared.recipients;
    progress.deliveries = prepared.deliveries;
    progress.counts = prepared.counts;
    progress.phase = 'sending';
    await sendRespectingQuietHours(prepared.ranges);
    await failover(0);

    for (const [index, level] of levels.entries()) {
      progress.phase = 'waiting_ack';
      progress.escalation = { level: index, levels: levels.length, nextAt: dueAt(level) };
      const wait = Math.max(0, Date.parse(dueAt(level)) - Date.now());
      const ackedInTime = await condition(() => acknowledged !== null, wait, {
        summary: `escalation level ${index + 1} in ${level.afterSeconds}s unless acknowledged`,
      });
      if (ackedInTime) break;
      progress.phase = 'sending';
      const next = levels[index + 1];
      progress.escalation = { level: index + 1, levels: levels.length, nextAt: next ? dueAt(next) : null };
      const escalated = await bookkeeping.prepareDeliveries.executeWithOptions(
        { ...bookkeepingOptions, summary: `escalation level ${index + 1}: resolve audience` },
        [
          {
            notificationId,
            tenantId,
            request,
            batchSize: tuning.batchSize,
            level: index + 1,
            quietHoursBypassHigh: tuning.quietHoursBypassHigh,
            to:
              level.recipients || level.groups
                ? { recipients: level.recipients, groups: level.groups }
                : request.to,
            channels: level.channels,
          },
        ],
      );
      progress.deliveries += escalated.deliveries;
      await sendRespectingQuietHours(escalated.ranges);
      await failover(index + 1);
    }
  };

  // Everything cancel must stop lives in this scope: batches, retries, escalation timers.
  const work = new CancellationScope();
  const delivered = work.run(deliver).catch((error: unknown) => {
    if (!(cancelled && isCancellation(error))) throw error;
  });
  // A cancel is handled as soon as it arrives, while batches may still be sending.
  await Promise.race([delivered, condition(() => cancelled)]);
  delivering = false;

  if (cancelled) {
    if (cancelWaits) {
      await CancellationScope.nonCancellable(async () => {
        // Running batches stop at their next claim; what is already on the wire finishes and is logged.
        await bookkeeping.skipUnclaimedDeliveries.executeWithOptions(
          { ...bookkeepingOptions, summary: 'cancelled: skip what no batch has claimed' },
          [{ notificationId }],
        );
        // Bounded: a batch on a dead worker ends after one heartbeat timeout; one that never stops is
        // left behind, and its claims keep it from sending what finishCancelled ends below.
        const stopped = await condition(() => inFlight === 0, 2 * tuning.heartbeatTimeoutMs, {
          summary: 'cancelled: wait for running batches to stop',
        });
        if (stopped) await delivered;
        else delivered.catch(() => undefined);
      });
    } else {
      await delivered;
    }
    const result = await CancellationScope.nonCancellable(() =>
      bookkeeping.finishCancelled.executeWithOptions(
        { ...bookkeepingOptions, summary: 'cancelled: skip what is left' },
        [{ notificationId }],
      ),
    );
    if (cancelWaits) {
      sentBeforeCancel = result.counts.sent ?? 0;
      // The cancel update answers before the run ends.
      await condition(allHandlersFinished);
    }
    return end('cancelled', result.counts);
  }
  progress.phase = 'finishing';
  const outcome = await bookkeeping.finishNotification.executeWithOptions(
    { ...bookkeepingOptions, summary: 'record final status' },
    [{ notificationId }],
  );
  return end(outcome.status, outcome.counts);

  function end(
    status: NotificationOutcome['status'],
    counts: NotificationOutcome['counts'],
  ): NotificationOutcome {
    finished = true;
    progress.counts = counts;
    progress.phase = status;
    if (progress.escalation) progress.escalation.nextAt = null;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: status }]);
    return { notificationId, status, recipients: progress.recipients, counts, acknowledged };
  }
}

/** A send batch that stopped because the delivery log was unreachable (not a failed attempt). */
function databaseOutage(error: ActivityFailure): boolean {
  return error.cause instanceof ApplicationFailure && error.cause.type === ERROR_TYPES.databaseUnavailable;
}
