import {
  ActivityFailure,
  condition,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import { ERROR_TYPES } from '../common/errors';
import { notificationStateQuery, SEARCH_ATTRIBUTES } from '../common/temporal';
import type {
  ChannelRetryPolicy,
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
 * One notification: resolve the audience into delivery rows, send them in batches through a sliding
 * window of activities, end with a status. Per-recipient state lives in the delivery log; the
 * workflow keeps only counts, so its history stays small however large the audience.
 */
export async function notificationWorkflow(input: NotificationWorkflowInput): Promise<NotificationOutcome> {
  const { notificationId, tenantId, request, tuning } = input;
  const progress: NotificationProgress = {
    notificationId,
    phase: 'resolving',
    recipients: 0,
    deliveries: 0,
    batchesTotal: 0,
    batchesDone: 0,
    counts: {},
  };
  setHandler(notificationStateQuery, () => progress);

  const prepared = await bookkeeping.prepareDeliveries.executeWithOptions(
    { ...bookkeepingOptions, summary: `resolve audience of ${request.event}` },
    [{ notificationId, tenantId, request, batchSize: tuning.batchSize }],
  );
  progress.recipients = prepared.recipients;
  progress.deliveries = prepared.deliveries;
  progress.batchesTotal = prepared.ranges.length;
  progress.counts = prepared.counts;
  progress.phase = 'sending';

  const sender = proxyActivities<HeraldActivities>(
    sendOptions(tuning.retry.email, tuning.heartbeatTimeoutMs),
  );

  const sendRange = async (range: IdRange): Promise<void> => {
    const retry = tuning.retry[range.channel];
    try {
      await sender.sendBatch.executeWithOptions(
        { ...sendOptions(retry, tuning.heartbeatTimeoutMs), summary: `${range.channel} → ${range.label}` },
        [
          {
            notificationId,
            tenantId,
            event: request.event,
            priority: request.priority,
            data: request.data,
            range,
          },
        ],
      );
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      // Retries exhausted: the rows still open in this batch have failed for good.
      await bookkeeping.failUnsentDeliveries.executeWithOptions(
        { ...bookkeepingOptions, summary: `${range.channel} retries exhausted → ${range.label}` },
        [{ notificationId, range, reason: `gave up after ${retry.maximumAttempts} attempts` }],
      );
    }
  };

  // Sliding window: at most maxConcurrentBatches batches in flight.
  let inFlight = 0;
  const batches: Promise<void>[] = [];
  for (const range of prepared.ranges) {
    await condition(() => inFlight < tuning.maxConcurrentBatches);
    inFlight++;
    batches.push(
      sendRange(range).finally(() => {
        inFlight--;
        progress.batchesDone++;
      }),
    );
  }
  await Promise.all(batches);

  progress.phase = 'finishing';
  const finished = await bookkeeping.finishNotification.executeWithOptions(
    { ...bookkeepingOptions, summary: 'record final status' },
    [{ notificationId }],
  );
  progress.counts = finished.counts;
  progress.phase = finished.status;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: finished.status }]);
  return {
    notificationId,
    status: finished.status,
    recipients: prepared.recipients,
    counts: finished.counts,
  };
}
