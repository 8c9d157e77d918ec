import type { DeliveryStatus, IdRange } from '../../common/types';
import { countDeliveriesByStatus, failOpenDeliveries, skipOpenDeliveries } from '../../db/queries/deliveries';
import { markNotificationFinished } from '../../db/queries/notifications';
import { currentWorkflowId, type StepContext } from './deps';

export type DeliveryCounts = Partial<Record<DeliveryStatus, number>>;

/** `failed` only when nothing at all went out. */
export const finalStatus = (counts: DeliveryCounts): 'completed' | 'failed' =>
  (counts.failed ?? 0) > 0 && (counts.sent ?? 0) === 0 ? 'failed' : 'completed';

export function createFinishSteps({ deps: { db }, metrics, log }: StepContext) {
  /** After the last retry: whatever is still open in the range failed for good. */
  async function failUnsentDeliveries(input: {
    notificationId: string;
    range: IdRange;
    reason: string;
  }): Promise<number> {
    const failed = await failOpenDeliveries(db, input.notificationId, input.range, input.reason);
    if (failed > 0) {
      // Deliveries that were still retrying when the retries ran out end here, as failed.
      metrics.deliveries.inc({ channel: input.range.channel, outcome: 'failed' }, failed);
      log.warn(
        {
          workflowId: currentWorkflowId(),
          notificationId: input.notificationId,
          channel: input.range.channel,
          failed,
          reason: input.reason,
        },
        'deliveries failed after the last retry',
      );
    }
    return failed;
  }

  /**
   * The first step of a cancel: rows no send has claimed yet end as skipped, so running batches
   * stop at their next claim; the sends already on the wire finish and are logged.
   */
  async function skipUnclaimedDeliveries(input: { notificationId: string }): Promise<number> {
    return skipOpenDeliveries(db, input.notificationId, 'cancelled', ['pending', 'retrying']);
  }

  /** A cancelled notification: nothing still open will be sent. */
  async function finishCancelled(input: {
    notificationId: string;
  }): Promise<{ skipped: number; counts: DeliveryCounts }> {
    const skipped = await skipOpenDeliveries(db, input.notificationId, 'cancelled');
    await markNotificationFinished(db, input.notificationId, 'cancelled');
    return { skipped, counts: await countDeliveriesByStatus(db, input.notificationId) };
  }

  /** Records the notification's final status from its deliveries. */
  async function finishNotification(input: {
    notificationId: string;
  }): Promise<{ status: 'completed' | 'failed'; counts: DeliveryCounts }> {
    const counts = await countDeliveriesByStatus(db, input.notificationId);
    const status = finalStatus(counts);
    await markNotificationFinished(db, input.notificationId, status);
    return { status, counts };
  }

  return { failUnsentDeliveries, skipUnclaimedDeliveries, finishCancelled, finishNotification };
}
