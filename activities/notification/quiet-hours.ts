import type { Pool } from 'pg';
import { quietHoursEnd } from '../../common/quiet-hours';
import { quietHoursCandidates, setNotBefore } from '../../db/queries/deliveries';

/**
 * Holds back the deliveries of recipients inside their quiet hours until the window ends, in their
 * own time zone (UTC when they have none). Pages through only the recipients that keep quiet hours.
 */
export async function deferForQuietHours(
  db: Pool,
  notificationId: string,
  level: number,
  now: number,
): Promise<void> {
  let afterId = '0';
  for (;;) {
    const page = await quietHoursCandidates(db, notificationId, level, afterId, 1000);
    if (page.length === 0) return;
    const updates = page.flatMap((c) => {
      const end = quietHoursEnd({ ...c.quietHours, timezone: c.timezone ?? 'UTC' }, now);
      // Whole seconds, so recipients whose windows end together share one timer.
      return end > now ? [{ id: c.id, notBefore: new Date(Math.ceil(end / 1000) * 1000) }] : [];
    });
    await setNotBefore(db, updates);
    afterId = page[page.length - 1]!.id;
  }
}
