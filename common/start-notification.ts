import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { NotificationRecord } from '../db/queries/notifications';
import { SEARCH_ATTRIBUTES } from './temporal';
import type { DeliveryTuning, NotificationRequest, NotificationWorkflowInput } from './types';

/** "1 group, 2 recipients": the audience in a few words, for the run's summary in the Temporal UI. */
export function describeAudience(request: NotificationRequest): string {
  const count = (n: number | undefined, one: string) => (n ? `${n} ${one}${n === 1 ? '' : 's'}` : '');
  const { to } = request;
  return [
    count(to.groups?.length, 'group'),
    count(to.recipients?.length, 'recipient'),
    count(to.emails?.length, 'email'),
    count(to.phones?.length, 'phone'),
  ]
    .filter(Boolean)
    .join(', ');
}

/**
 * Starts the workflow of a recorded notification, idempotently: the id comes from the notification,
 * a running workflow is reused and a finished one is never run again. Used by the API and by the
 * overdue activity alike, so every notification looks the same in the Temporal UI.
 */
export async function startNotificationWorkflow(
  client: Client,
  options: { record: NotificationRecord; taskQueue: string; tuning: DeliveryTuning; origin?: string },
): Promise<void> {
  const { record } = options;
  const input: NotificationWorkflowInput = {
    notificationId: record.id,
    tenantId: record.tenantId,
    request: record.request,
    tuning: options.tuning,
    paged: true,
  };
  const origin = options.origin ? ` (${options.origin})` : '';
  try {
    await client.workflow.start('notificationWorkflow', {
      workflowId: record.workflowId,
      taskQueue: options.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.event, value: record.event },
        { key: SEARCH_ATTRIBUTES.tenant, value: record.tenantId },
        { key: SEARCH_ATTRIBUTES.priority, value: record.priority },
        { key: SEARCH_ATTRIBUTES.status, value: 'running' },
      ],
      memo: { notificationId: record.id, event: record.event, audience: record.request.to },
      staticSummary: `${record.event}${origin} → ${describeAudience(record.request)} (${record.priority})`,
      staticDetails: `Notification ${record.id}, tenant ${record.tenantId}, data keys: ${Object.keys(record.request.data).join(', ') || 'none'}`,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    throw error;
  }
}
