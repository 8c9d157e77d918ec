import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  sleep,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { HeraldActivities } from '../activities';
import { sendBatchOptions } from './send-options';
import { ERROR_TYPES } from '../common/errors';
import type { IdRange, LateFailoverInput } from '../common/types';

export interface LateFailoverResult {
  woken: number;
}

const bookkeepingOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
const bookkeeping = proxyActivities<HeraldActivities>(bookkeepingOptions);

/**
 * A provider said, after the notification's own run had moved on, that a message failed (a Twilio
 * status callback: `undelivered`, `failed`): wakes the next channel of the recipients' failover
 * chains and sends it, like the notification's own failover step, until no chain has a link left.
 * Started by the API once per failed delivery; the claims on each row keep it from sending anything
 * the notification's own run sends.
 */
export async function lateFailoverWorkflow(input: LateFailoverInput): Promise<LateFailoverResult> {
  const { tuning } = input;
  let woken = 0;
  for (;;) {
    const { ranges } = await bookkeeping.wakeFailover.executeWithOptions(
      { ...bookkeepingOptions, summary: 'late failover: wake the next channel of failed chains' },
      [{ notificationId: input.notificationId, level: input.level, batchSize: tuning.batchSize }],
    );
    if (ranges.length === 0) return { woken };
    woken += ranges.reduce((n, r) => n + r.size, 0);
    // Few rows (the chains of one failed message): one batch after another.
    for (const range of ranges) await send(input, range);
  }
}

async function send(input: LateFailoverInput, range: IdRange, outageBackoffMs = 500): Promise<void> {
  const retry = input.tuning.retry[range.channel];
  const { sendBatch } = proxyActivities<HeraldActivities>({
    ...sendBatchOptions(retry, input.tuning.heartbeatTimeoutMs),
    summary: `late failover: ${range.channel} → ${range.label}`,
  });
  try {
    await sendBatch({
      notificationId: input.notificationId,
      tenantId: input.tenantId,
      event: input.event,
      priority: input.priority,
      data: input.data,
      range,
      ackable: input.ackable,
    });
  } catch (error) {
    if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
    if (error.cause instanceof ApplicationFailure && error.cause.type === ERROR_TYPES.databaseUnavailable) {
      // The log was unreachable: resume later, as the notification's own run does.
      const wait = Math.min(outageBackoffMs * 2, 60_000);
      await sleep(wait);
      return send(input, range, wait);
    }
    await bookkeeping.failUnsentDeliveries({
      notificationId: input.notificationId,
      range,
      reason: `gave up after ${retry.maximumAttempts} attempts`,
    });
  }
}
