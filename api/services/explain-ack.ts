/**
 * The acknowledgement of a notification, which only its workflow holds: a running one answers its
 * `state` query, a finished one its result. Bounded by a deadline, so an unreachable Temporal (or a
 * run past its retention) makes the answer 'unknown' instead of a hang or an error.
 */
import type { Client } from '@temporalio/client';
import { notificationStateQuery } from '../../common/temporal';
import type { NotificationOutcome } from '../../common/types';
import type { AckLookup } from './explain';

const DEADLINE_MS = 2_000;

export function temporalAcknowledgement(client: Client): AckLookup {
  return async (record) => {
    const handle = client.workflow.getHandle(record.workflowId);
    const running = record.status === 'accepted' || record.status === 'running';
    try {
      return await client.connection.withDeadline(Date.now() + DEADLINE_MS, async () =>
        running
          ? ((await handle.query(notificationStateQuery)).acknowledged ?? null)
          : (((await handle.result()) as NotificationOutcome).acknowledged ?? null),
      );
    } catch {
      return 'unknown';
    }
  };
}
