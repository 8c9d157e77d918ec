import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { deliveryTuning } from '../../common/delivery-tuning';
import { FAILOVER_STANDBY, type ChannelName, type LateFailoverInput } from '../../common/types';
import { getNotification } from '../../db/queries/notifications';
import { lateFailureWithStandby } from '../../db/queries/provider-status';
import type { ApiDeps } from '../deps';

/**
 * After a provider's callback failed a sent message (`undelivered`, `failed`): when the recipient has
 * a failover standby left, starts the late-failover run that wakes and sends it. One run per failed
 * delivery (its id is the workflow id), so a replayed callback starts nothing more.
 */
export async function failOverLate(
  deps: ApiDeps,
  channels: readonly ChannelName[],
  providerMessageId: string,
): Promise<boolean> {
  const failure = await lateFailureWithStandby(deps.db, channels, providerMessageId, FAILOVER_STANDBY);
  if (!failure) return false;
  const record = await getNotification(deps.db, failure.tenantId, failure.notificationId);
  if (!record) return false;
  const input: LateFailoverInput = {
    notificationId: record.id,
    tenantId: record.tenantId,
    level: failure.level,
    event: record.event,
    priority: record.priority,
    data: record.request.data,
    ackable: (record.request.escalation?.levels.length ?? 0) > 0,
    tuning: deliveryTuning(deps.config),
  };
  try {
    await deps.temporal.workflow.start('lateFailoverWorkflow', {
      workflowId: `failover-${failure.deliveryId}`,
      taskQueue: deps.config.HERALD_TASK_QUEUE,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `late failover of ${record.event} after a provider failure (delivery ${failure.deliveryId})`,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw error;
  }
  return true;
}
