import type { ChannelName, DeliveryStatus } from '../../common/types';
import { toDelivery, type Delivery, type DeliveryRow } from './deliveries';
import type { Queryable } from './recipients';

export interface NotificationDeliveryFilter {
  status?: DeliveryStatus;
  channel?: ChannelName;
}

/**
 * One notification's deliveries in id order, after `after` (keyset): every level, every channel.
 * Ids only grow, so a reader paging while the notification runs never sees a row twice.
 */
export async function listNotificationDeliveries(
  db: Queryable,
  notificationId: string,
  page: { limit: number; after?: string } & NotificationDeliveryFilter,
): Promise<Delivery[]> {
  const result = await db.query<DeliveryRow>(
    `SELECT * FROM deliveries
      WHERE notification_id = $1
        AND ($2::bigint IS NULL OR id > $2)
        AND ($3::text IS NULL OR status = $3)
        AND ($4::text IS NULL OR channel = $4)
      ORDER BY id LIMIT $5`,
    [notificationId, page.after ?? null, page.status ?? null, page.channel ?? null, page.limit],
  );
  return result.rows.map(toDelivery);
}
