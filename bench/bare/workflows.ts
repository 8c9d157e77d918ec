/**
 * The ceiling row's workflow: what Temporal itself allows per message, one workflow and one send
 * activity, nothing else. Bundled by bench/processes/ceiling-worker.ts (its own task queue).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

const { sendOne } = proxyActivities<BareActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});

export async function bareNotification(recipient: number): Promise<void> {
  await sendOne(recipient);
}
