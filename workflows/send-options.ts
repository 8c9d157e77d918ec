import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import { ERROR_TYPES } from '../common/errors';
import type { ChannelRetryPolicy } from '../common/types';

/** A send batch's options: the channel's retry policy, and a heartbeat that notices a dead worker. */
export const sendBatchOptions = (retry: ChannelRetryPolicy, heartbeatTimeoutMs: number): ActivityOptions => ({
  startToCloseTimeout: '15 minutes',
  // A dead worker is noticed after one heartbeat timeout, and the batch resumes elsewhere.
  heartbeatTimeout: heartbeatTimeoutMs,
  // On cancel the batch's promise settles only once the activity has really stopped.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maximumIntervalMs,
    maximumAttempts: retry.maximumAttempts,
    nonRetryableErrorTypes: [ERROR_TYPES.unknownChannel],
  },
});
