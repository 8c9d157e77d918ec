import type { DeliveryStatus } from '../../common/types';
import {
  OPEN_DELIVERY_SELECT,
  OPEN_STATUSES,
  toOpenDelivery,
  type OpenDelivery,
  type OpenDeliveryRow,
} from './deliveries';
import type { Queryable } from './recipients';
import { prepared } from '../prepared';

/**
 * A small level's open deliveries, with what their renders need (as `openDeliveriesInRange`), in
 * one query: the small-audience path sends them without batches. `onlyIds`: just these (woken links).
 */
export async function openDeliveriesOfLevel(
  db: Queryable,
  notificationId: string,
  level: number,
  onlyIds: string[] | null = null,
): Promise<OpenDelivery[]> {
  const result = await db.query<OpenDeliveryRow>(
    prepared(`${OPEN_DELIVERY_SELECT}
      WHERE d.notification_id = $1 AND d.level = $2 AND d.status = ANY($3::text[])
        AND ($4::bigint[] IS NULL OR d.id = ANY($4::bigint[]))
      ORDER BY d.id`),
    [notificationId, level, OPEN_STATUSES, onlyIds],
  );
  return result.rows.map(toOpenDelivery);
}

/** A notification sent whole by the small-audience path: its audience's size and final status at once. */
export async function markSmallNotificationFinished(
  db: Queryable,
  id: string,
  status: Extract<DeliveryStatus, 'failed'> | 'completed',
  recipientCount: number,
): Promise<void> {
  await db.query(
    prepared(`UPDATE notifications SET status = $2, recipient_count = $3, updated_at = now(),
            completed_at = COALESCE(completed_at, now())
      WHERE id = $1`),
    [id, status, recipientCount],
  );
}
