import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type LocalActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import { ERROR_TYPES } from '../common/errors';
import { ackUpdate, cancelUpdate, notificationStateQuery, SEARCH_ATTRIBUTES } from '../common/temporal';
import type {
  Acknowledgement,
  CancelResult,
  DeliveryStatus,
  EscalationLevel,
  IdRange,
  NotificationCarry,
  NotificationOutcome,
  NotificationPosition,
  NotificationProgress,
  NotificationWorkflowInput,
} from '../common/types';
import { expandLevels } from './escalation-levels';
import { sendBatchOptions } from './send-options';
import { legacyNotificationWorkflow } from './notification-legacy';

/**
 * Runs that started before paged fan-out replay the earlier workflow; runs started with `paged`
 * (all since) skip the check, so a small notification records no patch marker.
 */
const PAGED_FAN_OUT = 'paged-fan-out';

const retryForever: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
};
/** Bookkeeping runs in the workflow's own worker: no task-queue round trip, no activity events. */
const bookkeeping = proxyLocalActivities<HeraldActivities>({
  startToCloseTimeout: '2 minutes',
  retry: retryForever,
});
const localOptions = (summary: string): LocalActivityOptions => ({
  startToCloseTimeout: '2 minutes',
  retry: retryForever,
  summary,
});

/**
 * One notification, level by level (0: the notification itself; then each escalation level that
 * fires): resolve the level's audience into delivery rows, send its open rows page by page through
 * a sliding window of batches (waiting out quiet hours in send order), wake failover links until
 * none is left, then wait for an acknowledgement before the next level. A small audience is resolved
 * and sent by one activity. Per-recipient state lives in the delivery log; the run keeps counts and
 * a cursor, and continues as new when its history grows long, so any audience fits.
 */
export async function notificationWorkflow(input: NotificationWorkflowInput): Promise<NotificationOutcome> {
  if (!input.paged && !input.carried && !patched(PAGED_FAN_OUT)) return legacyNotificationWorkflow(input);
  return pagedNotification(input);
}

async function pagedNotification(input: NotificationWorkflowInput): Promise<NotificationOutcome> {
  const { notificationId, tenantId, request, tuning } = input;
  const rangesPerPage = tuning.rangesPerPage ?? 50;
  const historyEventsPerRun = tuning.historyEventsPerRun ?? 8_000;
  const levels = expandLevels(request.escalation?.levels ?? [], request.escalation?.repeat ?? 0);
  const carried = input.carried;
  const startedAt = carried?.startedAt ?? workflowInfo().startTime.getTime();
  const dueAt = (level: EscalationLevel) => new Date(startedAt + level.afterSeconds * 1000).toISOString();
  const progress: NotificationProgress = carried?.progress ?? {
    notificationId,
    phase: 'resolving',
    recipients: 0,
    deliveries: 0,
    batchesTotal: 0,
    batchesDone: 0,
    counts: {},
    quietHours: null,
    escalation: levels[0] ? { level: 0, levels: levels.length, nextAt: dueAt(levels[0]) } : null,
    acknowledged: null,
  };
  let acknowledged: Acknowledgement | null = carried?.acknowledged ?? null;
  const at: NotificationPosition = carried?.at ?? { level: 0, step: 'resolve', cursor: null };
  let cancelled = false;
  let finished = false;
  /** Until the sends and escalations are over: a cancel after that has nothing left to stop. */
  let delivering = true;
  /** Set once a cancel has taken effect: what the log says went out. */
  let sentBeforeCancel: number | null = null;
  let inFlight = 0;
  let batches: Promise<void>[] = [];
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
      batches: Math.max(0, progress.batchesTotal - progress.batchesDone),
      escalationLevels: acknowledged ? 0 : levelsLeft(),
      nextEscalationAt: acknowledged ? null : (progress.escalation?.nextAt ?? null),
      quietHoursDeliveries: progress.quietHours?.deliveries ?? 0,
    };
    if (finished || cancelled || !delivering) {
      return { cancelled: false, reason: 'the notification has finished', pending, sentBeforeCancel: 0 };
    }
    cancelled = true;
    work.cancel();
    // The answer waits until the batches have stopped and the log is final.
    return condition(() => sentBeforeCancel !== null).then((): CancelResult => ({
      cancelled: true,
      reason: null,
      pending,
      sentBeforeCancel: sentBeforeCancel!,
    }));
  });

  /** Resolves the current level; a small audience is sent (and, without escalation, finished) there. */
  async function resolveLevel(): Promise<NotificationOutcome | null> {
    const level = at.level;
    const escalation = level > 0 ? levels[level - 1]! : null;
    const resolved = await bookkeeping.resolveAudience.executeWithOptions(
      {
        // Resolving a million-person audience writes millions of rows.
        startToCloseTimeout: '30 minutes',
        retry: retryForever,
        summary:
          level === 0
            ? `resolve audience of ${request.event}`
            : `escalation level ${level}: resolve audience`,
      },
      [
        {
          notificationId,
          tenantId,
          request,
          batchSize: tuning.batchSize,
          quietHoursBypassHigh: tuning.quietHoursBypassHigh,
          level,
          to:
            escalation && (escalation.recipients || escalation.groups)
              ? { recipients: escalation.recipients, groups: escalation.groups }
              : request.to,
          channels: escalation?.channels,
          sendNow: tuning.smallAudience
            ? { maxDeliveries: tuning.smallAudience, ackable: levels.length > 0, finish: levels.length === 0 }
            : undefined,
        },
      ],
    );
    if (level === 0) progress.recipients = resolved.recipients;
    progress.deliveries += resolved.deliveries;
    progress.counts = resolved.counts;
    progress.batchesTotal += resolved.batches;
    if (resolved.held > 0) progress.quietHours = { deliveries: resolved.held, nextAt: resolved.heldUntil };
    if (resolved.finished) return end(resolved.finished.status, resolved.finished.counts);
    // Sent here already (open only if some failed temporarily): the send step picks up what is left.
    at.step = resolved.open > 0 ? 'send' : 'failover';
    at.cursor = null;
    at.triedOnce = resolved.sentNow;
    at.retryDelayMs = resolved.retryAfterMs ?? undefined;
    return null;
  }

  /** Sends the level's open deliveries page by page from the cursor, through the window of batches. */
  async function sendPages(): Promise<void> {
    progress.phase = 'sending';
    if (at.triedOnce) {
      // The first attempt was the resolving step's: the retry waits its interval, as any retry does.
      const first =
        at.retryDelayMs ?? Math.min(...Object.values(tuning.retry).map((r) => r.initialIntervalMs));
      await sleep(first, { summary: 'retry what failed temporarily while resolving' });
    }
    for (;;) {
      const page = await bookkeeping.openRangesPage.executeWithOptions(
        localOptions(`level ${at.level}: next ${rangesPerPage} batches`),
        [
          {
            notificationId,
            level: at.level,
            batchSize: tuning.batchSize,
            maxRanges: rangesPerPage,
            after: at.cursor,
          },
        ],
      );
      for (const range of page.ranges) {
        await waitOutQuietHours(range);
        await condition(() => inFlight < tuning.maxConcurrentBatches);
        dispatch(range);
      }
      if (!page.cursor) break;
      if (historyIsLong()) {
        // Continue as new only with no batch in flight: the cursor then marks everything before it done.
        await drain();
        at.cursor = page.cursor;
        await continueWithState();
      }
      at.cursor = page.cursor;
    }
    await drain();
    at.cursor = null;
    at.triedOnce = false;
    at.retryDelayMs = undefined;
  }

  /** Quiet hours: ranges come in send order, so the held ones wait here one end time after another. */
  async function waitOutQuietHours(range: IdRange): Promise<void> {
    if (range.notBefore === null) return;
    const wait = Date.parse(range.notBefore) - Date.now();
    if (wait > 0) {
      progress.phase = 'waiting_quiet_hours';
      progress.quietHours = {
        deliveries: progress.quietHours?.deliveries ?? range.size,
        nextAt: range.notBefore,
      };
      await sleep(wait, { summary: `quiet hours: deliveries wait until ${range.notBefore}` });
      progress.phase = 'sending';
    }
    if (progress.quietHours) {
      const deliveries = Math.max(0, progress.quietHours.deliveries - range.size);
      progress.quietHours = { deliveries, nextAt: deliveries > 0 ? progress.quietHours.nextAt : null };
    }
  }

  function dispatch(range: IdRange): void {
    inFlight++;
    const batch = sendRange(range, at.triedOnce === true).finally(() => {
      inFlight--;
      progress.batchesDone++;
      progress.batchesTotal = Math.max(progress.batchesTotal, progress.batchesDone + inFlight);
    });
    // A cancel can end the page loop before drain(); the batch's rejection is not unhandled then.
    batch.catch(() => undefined);
    batches.push(batch);
  }

  async function drain(): Promise<void> {
    const running = batches;
    batches = [];
    await Promise.all(running);
  }

  /** One batch, retried by Temporal; the log unreachable resumes it later, retries exhausted fail it. */
  async function sendRange(range: IdRange, triedOnce: boolean, outageBackoffMs = 500): Promise<void> {
    const retry = tuning.retry[range.channel];
    const escalation = range.level > 0 ? ` (escalation ${range.level})` : '';
    const attempts = { ...retry, maximumAttempts: retry.maximumAttempts - (triedOnce ? 1 : 0) };
    try {
      if (attempts.maximumAttempts < 1) throw new RetriesUsedUp();
      const result = await sender.sendBatch.executeWithOptions(
        {
          ...sendBatchOptions(attempts, tuning.heartbeatTimeoutMs),
          summary: `${range.channel} → ${range.label}${escalation}`,
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
      count({ sent: result.sent, failed: result.failed, skipped: result.skipped });
    } catch (error) {
      const usedUp = error instanceof RetriesUsedUp;
      if (!usedUp && (!(error instanceof ActivityFailure) || isCancellation(error))) throw error;
      if (!usedUp && databaseOutage(error as ActivityFailure)) {
        // The log was unreachable: resume the batch later (its open rows only), with no limit.
        const backoff = Math.min(outageBackoffMs * 2, 60_000);
        await sleep(backoff, { summary: `delivery log unreachable: resume in ${backoff / 1000}s` });
        return sendRange(range, triedOnce, backoff);
      }
      // Retries exhausted: the rows still open in this batch have failed for good.
      const failed = await bookkeeping.failUnsentDeliveries.executeWithOptions(
        localOptions(`${range.channel} retries exhausted → ${range.label}`),
        [{ notificationId, range, reason: `gave up after ${retry.maximumAttempts} attempts` }],
      );
      count({ failed });
    }
  }

  /** Live counts for the query: what each batch reports moves out of `pending`. */
  function count(moved: Partial<Record<DeliveryStatus, number>>): void {
    for (const [status, n] of Object.entries(moved) as [DeliveryStatus, number][]) {
      if (!n) continue;
      progress.counts[status] = (progress.counts[status] ?? 0) + n;
      progress.counts.pending = Math.max(0, (progress.counts.pending ?? 0) - n);
    }
  }

  /** Each permanent failure in a recipient's failover chain wakes the next channel, until none is left. */
  async function wakeFailover(): Promise<void> {
    const { woken } = await bookkeeping.wakeFailoverStandbys.executeWithOptions(
      localOptions('failover: wake the next channel of failed chains'),
      [{ notificationId, level: at.level }],
    );
    if (woken > 0) {
      progress.counts.pending = (progress.counts.pending ?? 0) + woken;
      progress.batchesTotal += Math.ceil(woken / tuning.batchSize);
    }
    at.step = woken > 0 ? 'send' : 'wait';
    at.cursor = null;
  }

  /** Until the next level is due, unless acknowledged; false when there is none or it was acknowledged. */
  async function waitForAck(): Promise<boolean> {
    const next = levels[at.level];
    if (!next || acknowledged) return false;
    progress.phase = 'waiting_ack';
    progress.escalation = { level: at.level, levels: levels.length, nextAt: dueAt(next) };
    const wait = Math.max(0, Date.parse(dueAt(next)) - Date.now());
    const ackedInTime = await condition(() => acknowledged !== null, wait, {
      summary: `escalation level ${at.level + 1} in ${next.afterSeconds}s unless acknowledged`,
    });
    if (ackedInTime) return false;
    const after = levels[at.level + 1];
    progress.escalation = { level: at.level + 1, levels: levels.length, nextAt: after ? dueAt(after) : null };
    progress.phase = 'sending';
    Object.assign(at, { level: at.level + 1, step: 'resolve', cursor: null });
    return true;
  }

  /** Every step of every level, from wherever this run starts; the outcome when a small audience finished. */
  async function deliver(): Promise<NotificationOutcome | null> {
    for (;;) {
      if (at.step === 'resolve') {
        const outcome = await resolveLevel();
        if (outcome) return outcome;
      } else if (at.step === 'send') {
        await sendPages();
        at.step = 'failover';
      } else if (at.step === 'failover') {
        await wakeFailover();
      } else if (!(await waitForAck())) {
        return null;
      }
    }
  }

  function historyIsLong(): boolean {
    const info = workflowInfo();
    return info.historyLength >= historyEventsPerRun || info.continueAsNewSuggested;
  }

  async function continueWithState(): Promise<never> {
    // An ack or cancel being answered finishes in this run.
    await condition(allHandlersFinished);
    const carry: NotificationCarry = { startedAt, progress, acknowledged, at };
    return continueAsNew<typeof notificationWorkflow>({ ...input, carried: carry });
  }

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

  const sender = proxyActivities<HeraldActivities>(
    sendBatchOptions(tuning.retry.email, tuning.heartbeatTimeoutMs),
  );

  // Everything cancel must stop lives in this scope: batches, retries, quiet hours and escalation timers.
  const work = new CancellationScope();
  const delivered = work.run(deliver).catch((error: unknown) => {
    if (cancelled && isCancellation(error)) return null;
    throw error;
  });
  // A cancel is handled as soon as it arrives, while batches may still be sending.
  const early = await Promise.race([delivered, condition(() => cancelled).then(() => null)]);
  delivering = false;
  if (early && !cancelled) return early;

  if (cancelled) {
    await CancellationScope.nonCancellable(async () => {
      // Running batches stop at their next claim; what is already on the wire finishes and is logged.
      await bookkeeping.skipUnclaimedDeliveries.executeWithOptions(
        localOptions('cancelled: skip what no batch has claimed'),
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
    const result = await CancellationScope.nonCancellable(() =>
      bookkeeping.finishCancelled.executeWithOptions(localOptions('cancelled: skip what is left'), [
        { notificationId },
      ]),
    );
    sentBeforeCancel = result.counts.sent ?? 0;
    // The cancel update answers before the run ends.
    await condition(allHandlersFinished);
    return end('cancelled', result.counts);
  }
  progress.phase = 'finishing';
  const outcome = await bookkeeping.finishNotification.executeWithOptions(
    localOptions('record final status'),
    [{ notificationId }],
  );
  return end(outcome.status, outcome.counts);
}

/** A channel allowing one attempt, which the resolving step has made: nothing is left to retry. */
class RetriesUsedUp extends Error {}

/** A send batch that stopped because the delivery log was unreachable (not a failed attempt). */
function databaseOutage(error: ActivityFailure): boolean {
  return error.cause instanceof ApplicationFailure && error.cause.type === ERROR_TYPES.databaseUnavailable;
}
